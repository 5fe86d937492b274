// Package disk finds the data disk a node's config describes, prepares it
// without ever destroying data it did not create, mounts it persistently and
// keeps the directory layout on it.
//
// The flow is observe (sysfs + blkid + mountinfo), decide (pure, see Decide),
// then apply only the decided change. A device with any signature — a
// filesystem of another type, a partition table, LVM, RAID or LUKS metadata —
// is never formatted; nothing is written below a mount point unless the
// intended device is mounted there according to the kernel's mountinfo, so a
// missing disk can never let data land on the SD card.
package disk
