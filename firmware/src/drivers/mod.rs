//! Drivers, generic over embedded-hal 1.0.
