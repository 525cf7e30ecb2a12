"""Sample models shipped with the platform, and the synthetic CT cases they are trained and tested on."""
