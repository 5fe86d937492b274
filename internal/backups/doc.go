// Package backups copies what must outlive the SD cards to the backups
// directory of the cluster file, on the storage node's HDD: the etcd
// snapshots k3s takes there. A copy is written only while the HDD is
// mounted, and is checked to be on it before it gets its name, so nothing
// lands on the SD card under an empty mount point.
package backups
