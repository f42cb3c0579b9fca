"""The CustomResourceDefinitions of the simulated cloud's controllers, one YAML file each.

Data, not code: ACK's Bucket, DBInstance and Role CRDs, trimmed to what the simulation
implements. A package only so that packaging ships the YAML files with the lab.
"""
