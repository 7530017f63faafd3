"""Satellite chips and model predictions for bounding boxes (``POST /api/run-model``).

A geo task moves through ``data_processing`` (STAC search per bbox, least cloudy scene per
temporal step, chips read from the scenes' Cloud-Optimized GeoTIFFs with windowed HTTP
range reads, cloud-masked with SCL, written as GeoTIFFs) and ``model_prediction`` (built-in
indices or a user ONNX model per chip stack) to ``completed`` or ``failed``. Modules:
``config`` (``[geo]``, ``[models.NAME]``), ``request`` (the request and its caps),
``bands`` (data sources), ``grid`` (chip grids), ``stac`` (search and scene choice),
``chips`` (reading and writing chips), ``indices`` and ``onnx_models`` (predictions),
``runner`` (the staged task).
"""
