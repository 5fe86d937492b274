package kube

// SetBeforeWrite lets tests run f between the read and the write of a
// Reconcile, to provoke a real write conflict on the apiserver.
func (r *LabelReconciler) SetBeforeWrite(f func()) { r.beforeWrite = f }
