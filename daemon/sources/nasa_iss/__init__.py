"""Source kind ``nasa_iss``: NASA ISS Earth photos (eol.jsc.nasa.gov); see issue 4."""
