"""The `azure:` source: Blob Storage accounts and containers, who can read them, read logging,
Defender for Storage, and the model files in them (docs/sources/azure.md)."""
