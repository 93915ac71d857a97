package source

import (
	"context"
	"sync"
)

// maxInFlight bounds the requests one load has open at a time, to be kind to the API server.
const maxInFlight = 8

// task is one request (or a short chain of dependent ones) against the API server.
type task func(ctx context.Context) error

// runAll runs the tasks, at most limit at a time, and returns the first error.
// The first error cancels the tasks still running or waiting.
func runAll(ctx context.Context, limit int, tasks []task) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for _, t := range tasks {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return context.Cause(ctx)
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := t(ctx); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// batch gathers the tasks of one round and drops requests already made in an earlier one.
type batch struct {
	issued map[string]bool
	tasks  []task
}

func newBatch() *batch { return &batch{issued: map[string]bool{}} }

// add queues t unless a request with the same key was queued before.
func (b *batch) add(key string, t task) {
	if b.issued[key] {
		return
	}
	b.issued[key] = true
	b.tasks = append(b.tasks, t)
}

// take returns the queued tasks and starts a new round; keys stay remembered.
func (b *batch) take() []task {
	out := b.tasks
	b.tasks = nil
	return out
}
