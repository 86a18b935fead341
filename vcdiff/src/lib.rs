//! VCDIFF (RFC 3284) delta encoding and decoding.
