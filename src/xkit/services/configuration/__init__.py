"""What a platform configures: the platform itself, its API keys, connectors, contexts and
branding, the provider templates it picks from, and the installation's keyring."""
