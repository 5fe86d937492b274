package kube

// ConditionType is the Node condition nodeagent keeps on its own Node: True
// while the node is provisioned as its cluster file says, False with a
// one-line reason and message when not (kubectl describe node shows it).
const ConditionType = "NodeagentReady"

// Reasons of the Events nodeagent records on its Node. `nodeagent status
// --cluster` reads ReasonManifestsApplied back for each node's last apply.
const (
	ReasonDevicePlugged      = "DevicePlugged"
	ReasonDeviceUnplugged    = "DeviceUnplugged"
	ReasonDiskMounted        = "DiskMounted"
	ReasonDiskLost           = "DiskLost"
	ReasonFirewallRepaired   = "FirewallRepaired"
	ReasonK3sRestarted       = "K3sRestarted"
	ReasonManifestsApplied   = "ManifestsApplied"
	ReasonStaleMemberRemoved = "StaleMemberRemoved"
)
