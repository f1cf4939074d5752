"""`coinlog seed`: a deployment's policy and gift catalog, from a file onto the log."""
