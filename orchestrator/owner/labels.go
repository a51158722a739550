package owner

// Labels naming the holder of an engine lock, a swap or a probe sidecar.
const (
	// LabelOwner names the tarsup process (see Owner).
	LabelOwner = "tarsup.txn.owner"
	// LabelStarted is when that process took the lock or began (RFC 3339).
	LabelStarted = "tarsup.txn.started"
)
