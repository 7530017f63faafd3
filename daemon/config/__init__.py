"""The configuration package. Import what you need from its modules (this file imports
nothing, so a component can import its own table's model without loading the rest):

- ``base``: :class:`Model`, the shared :class:`SourceOptions`, validators, kind dispatch;
- ``settings`` / ``api``: the component tables (``[http]``, ``[downloads]``, ``[api]``…);
- ``root``: :class:`Config`, the whole file (source and processor tables by ``kind``);
- ``load``: reading, ``${ENV}``, ``file:line`` errors (``load_config``, ``parse_config``);
- ``env``, ``locate``: ``${ENV}`` interpolation, key → line and did-you-mean;
- ``diff``: what a reload changed.
"""
