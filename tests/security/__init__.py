"""End-to-end proofs of the lab's safety claims (issue #10): who may reach the embedded API server
and what each persona may do there, TLS only, private files kept private, the owner's control
channel, the Git server's refusals, and Secret values that never leave the cluster."""
