"""The systems around coinlog, simulated: people, their purchases and gifts, and the
providers that answer payouts. Everything here publishes events the way those systems would;
nothing reaches into the services."""
