"""Sources: each turns one provider's data into normalised resources (and nothing else)."""
