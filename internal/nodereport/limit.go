package nodereport

import (
	"time"

	"github.com/nodeagent/nodeagent/internal/host"
)

// Each reason has a token bucket: a burst of eventBurst, then one Event
// per eventRefill. A stick plugged and unplugged by hand a few times shows
// every time; a flapping one (a bad cable) costs at most about 60 writes
// an hour per reason instead of one per flap.
const (
	eventBurst  = 5
	eventRefill = time.Minute
)

type bucket struct {
	tokens float64
	at     time.Time
}

// limiter holds the buckets of the reasons seen (a handful: the reasons
// are constants).
type limiter struct {
	clock   host.Clock
	buckets map[string]*bucket
}

func newLimiter(clock host.Clock) *limiter {
	return &limiter{clock: clock, buckets: map[string]*bucket{}}
}

// allow takes a token of reason's bucket if there is one.
func (l *limiter) allow(reason string, now time.Time) bool {
	b, ok := l.buckets[reason]
	if !ok {
		b = &bucket{tokens: eventBurst, at: now}
		l.buckets[reason] = b
	}
	b.tokens = min(eventBurst, b.tokens+float64(now.Sub(b.at))/float64(eventRefill))
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// cachedEvent is an Event written before, whose count the next identical
// one bumps.
type cachedEvent struct {
	name  string
	count int
	used  int64 // eventCache.tick of the last use
}

// maxCachedEvents bounds the memory of Events written: the messages name
// devices and disks, so few are distinct.
const maxCachedEvents = 64

// eventCache maps an Event's reason and message to the Event written.
type eventCache struct {
	entries map[Event]*cachedEvent
	tick    int64
}

func newEventCache() *eventCache { return &eventCache{entries: map[Event]*cachedEvent{}} }

func (c *eventCache) get(e Event) (*cachedEvent, bool) {
	v, ok := c.entries[e]
	if ok {
		v.used = c.next()
	}
	return v, ok
}

func (c *eventCache) put(e Event, v *cachedEvent) {
	if len(c.entries) >= maxCachedEvents {
		c.evictOldest()
	}
	v.used = c.next()
	c.entries[e] = v
}

func (c *eventCache) forget(e Event) { delete(c.entries, e) }

func (c *eventCache) evictOldest() {
	var oldest Event
	first := true
	for e, v := range c.entries {
		if first || v.used < c.entries[oldest].used {
			oldest, first = e, false
		}
	}
	delete(c.entries, oldest)
}

// next is a logical clock for the cache's recency.
func (c *eventCache) next() int64 {
	c.tick++
	return c.tick
}
