package host

import "context"

// progressKey is the context key of the progress mark.
type progressKey struct{}

// WithProgress returns ctx carrying mark, which Progress calls. The daemon
// marks its reconcile alive with it: a watchdog that only heard phase
// starts and status lines killed a slow download or a long legitimate wait
// that went on working (issue #22, item 2).
func WithProgress(ctx context.Context, mark func()) context.Context {
	return context.WithValue(ctx, progressKey{}, mark)
}

// Progress says that the work of ctx moved on: bytes arrived, or a poll of
// a wait came back. Call it only where something completed, never from a
// timer, so a step that hangs still stops the marks. Without a mark in ctx
// it does nothing.
func Progress(ctx context.Context) {
	if mark, ok := ctx.Value(progressKey{}).(func()); ok {
		mark()
	}
}
