"""Notebook 07: the container and cluster files checked offline (dockerfile, manifests, policy), and local
replicas measured for real (http, loadtest, resources, balancer)."""
