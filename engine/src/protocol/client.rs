//! The client side of protocol 1.3.
