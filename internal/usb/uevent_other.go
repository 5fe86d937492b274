//go:build !linux

package usb

import (
	"context"
	"errors"
)

func listenUevents(context.Context) (<-chan struct{}, error) {
	return nil, errors.New("kernel uevents are linux-only")
}
