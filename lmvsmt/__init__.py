"""lmvsmt: language modeling vs. machine translation as multilingual pretraining objectives."""
