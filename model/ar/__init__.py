"""Plain autoregressive decoding: the drafter that proposes nothing (one token per target forward)."""
