package e2e

// Scheduling throughput with and without gpushare as kube-scheduler's extender (issue 13, item 4): the real
// kube-scheduler of the harness, N simulated MPS GPU nodes created through the API, P pods asking
// nvidia.com/gpu.shared: 1, kube-scheduler restarted before each run with client QPS/Burst 5000, runs interleaved
// (gpushare, null extender, none; then in the reverse order; ...). The null extender (null_extender_test.go)
// judges nothing: the floor any extender stands on. Pods/s counts from the first create to the last binding.
//
// Skipped unless E2E_BENCH_SCHEDULER is set: `make bench-scheduler` (E2E_BENCH_NODES, E2E_BENCH_PODS,
// E2E_BENCH_ROUNDS change the defaults 1000, 2000, 3). It adds N nodes to the cluster, so run it alone.

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"gpushare.test/e2e/nodeagent"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// inParallel runs do(0..n-1) on 16 goroutines and returns how many calls failed.
func inParallel(n int, do func(i int) error) int32 {
	var wg sync.WaitGroup
	var failed atomic.Int32
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				if do(i) != nil {
					failed.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	return failed.Load()
}

func TestSchedulerThroughput(t *testing.T) {
	if os.Getenv("E2E_BENCH_SCHEDULER") == "" {
		t.Skip("a benchmark: set E2E_BENCH_SCHEDULER=1 (make bench-scheduler)")
	}
	requireExtender(t)
	nodes, pods, rounds := envInt("E2E_BENCH_NODES", 1000), envInt("E2E_BENCH_PODS", 2000), envInt("E2E_BENCH_ROUNDS", 3)
	ctx := context.Background()
	fast := rest.CopyConfig(cluster.Rest)
	fast.QPS, fast.Burst = 5000, 5000
	client, err := kubernetes.NewForConfig(fast)
	if err != nil {
		t.Fatal(err)
	}
	pool := "bench-" + suffix()
	t0 := time.Now()
	// 8 RTX 4090s at 8 MPS replicas each: 64 shares a node, far more than the runs use.
	if failed := inParallel(nodes, func(i int) error {
		return cluster.Agent.AddNode(ctx, nodeagent.NodeSpec{Name: fmt.Sprintf("e2e-%s-%04d", pool, i),
			Product: "NVIDIA-GeForce-RTX-4090", Count: 8, MemoryMiB: rtx4090MemoryMiB, Mode: nodeagent.ModeMPS, Replicas: 8,
			Labels: map[string]string{poolLabel: pool}})
	}); failed > 0 {
		t.Fatalf("%d of %d nodes could not be added", failed, nodes)
	}
	t.Logf("%d nodes added in %s", nodes, time.Since(t0).Round(time.Millisecond))
	t.Cleanup(func() {
		_ = cluster.RestartScheduler(context.Background(), cluster.ExtenderEnabled, 0)
		for i := 0; i < nodes; i++ {
			_ = cluster.Agent.RemoveNode(context.Background(), fmt.Sprintf("e2e-%s-%04d", pool, i))
		}
	})

	// The three configurations, each run as kube-scheduler's extender (none: no extender).
	const withGpushare, withNull, withNone = "gpushare", "null", "none"
	certFile, keyFile := cluster.ServingCertFiles()
	null := startNullExtender(t, certFile, keyFile)
	defer null.stop()
	rates := map[string][]float64{}
	// CPU per pod bound, by component, each run: where a run's two cores went (the whole control plane shares
	// them, so this, not gpushare's answer time alone, says what limits the rate).
	components := []string{"kube-apiserver", "etcd", "kube-scheduler", "gpushare", "e2e.test"}
	var cpuLines []string
	run := func(extender string) float64 {
		var err error
		if extender == withNull {
			err = cluster.RestartSchedulerWithExtenderAt(ctx, null.url, "", "", 5000)
		} else {
			err = cluster.RestartScheduler(ctx, extender == withGpushare, 5000)
		}
		if err != nil {
			t.Fatal(err)
		}
		ns := newNamespace(t)
		// Bindings are counted from a watch opened before the first create: listing the namespace
		// (2,000 pods, 4 times a second, as this bench first did) cost kube-apiserver and this
		// process a large share of the two cores for as long as a run lasted, which weighed most on
		// the slower configuration.
		boundCh := make(chan time.Time, 1)
		watchCtx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		go countBindings(watchCtx, t, client, ns, pods, boundCh)
		cpuStart := cluster.ComponentCPU(components...)
		start := time.Now()
		type creates struct {
			failed int32
			done   time.Time
		}
		// E2E_BENCH_PPROF=SECONDS: a CPU profile of kube-scheduler from E2E_BENCH_PPROF_AFTER seconds into the
		// run (default 2), written beside the logs as scheduler-<gpushare|null|none>-<run>.pprof (`go tool pprof -top`
		// reads it). A run ends sooner than the profile does: it waits for the profile.
		profiled := make(chan struct{})
		if secs := envInt("E2E_BENCH_PPROF", 0); secs > 0 {
			file := fmt.Sprintf("%s/scheduler-%s-%d.pprof", cluster.LogDir, extender, len(rates[extender]))
			go func() {
				defer close(profiled)
				time.Sleep(time.Duration(envInt("E2E_BENCH_PPROF_AFTER", 2)) * time.Second)
				if err := cluster.SchedulerProfile(ctx, time.Duration(secs)*time.Second, file); err != nil {
					t.Logf("kube-scheduler profile: %v", err)
				} else {
					t.Logf("kube-scheduler profile: %s", file)
				}
			}()
		} else {
			close(profiled)
		}
		createsDone := make(chan creates, 1)
		go func() {
			failed := inParallel(pods, func(i int) error {
				p := newPod(fmt.Sprintf("p-%05d", i), withLimits("nvidia.com/gpu.shared", "1"), inPool(pool))
				_, err := client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
				return err
			})
			createsDone <- creates{failed, time.Now()}
		}()
		var lastBound time.Time
		select {
		case lastBound = <-boundCh:
		case <-time.After(10 * time.Minute):
		}
		cpuEnd := cluster.ComponentCPU(components...)
		stopWatch()
		c := <-createsDone
		<-profiled
		if lastBound.IsZero() || c.failed > 0 {
			t.Fatalf("extender %s: not every pod bound within 10 minutes, %d creates failed", extender, c.failed)
		}
		took := lastBound.Sub(start)
		rate := float64(pods) / took.Seconds()
		t.Logf("extender %-8s: %d pods bound in %s (creates took %s): %.0f pods/s", extender, pods,
			took.Round(time.Millisecond), c.done.Sub(start).Round(time.Millisecond), rate)
		line := fmt.Sprintf("  extender %-8s %3.0f pods/s, CPU ms per pod bound:", extender, rate)
		total := 0.0
		for _, name := range components {
			if end, ok := cpuEnd[name]; ok {
				ms := (end - cpuStart[name]) * 1000 / float64(pods)
				total += ms
				line += fmt.Sprintf(" %s %.1f,", name, ms)
			}
		}
		line += fmt.Sprintf(" all %.1f (%.2f cores)", total, total*rate/1000)
		t.Log(line)
		cpuLines = append(cpuLines, line)
		// Free the shares for the next run: force-delete (no kubelet grace in this harness).
		zero := int64(0)
		_ = client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
		return rate
	}
	for r := 0; r < rounds; r++ {
		order := []string{withGpushare, withNull, withNone}
		if r%2 == 1 {
			order = []string{withNone, withNull, withGpushare}
		}
		for _, ext := range order {
			rates[ext] = append(rates[ext], run(ext))
		}
	}
	median := func(v []float64) float64 {
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		return s[len(s)/2]
	}
	with, floor, without := median(rates[withGpushare]), median(rates[withNull]), median(rates[withNone])
	var sb strings.Builder
	fmt.Fprintf(&sb, "scheduler throughput, %d MPS nodes, %d pods a run, %d interleaved rounds, kube-scheduler QPS/Burst 5000:\n",
		nodes, pods, rounds)
	fmt.Fprintf(&sb, "  with gpushare's extender:    median %.0f pods/s, runs %v\n", with, roundAll(rates[withGpushare]))
	fmt.Fprintf(&sb, "  with the null extender:      median %.0f pods/s, runs %v\n", floor, roundAll(rates[withNull]))
	fmt.Fprintf(&sb, "  without (same scheduler):    median %.0f pods/s, runs %v\n", without, roundAll(rates[withNone]))
	fmt.Fprintf(&sb, "  with / without: %.2fx (target >= 0.8x); null / without: %.2fx (any extender's floor); with / null: %.2fx\n",
		with/without, floor/without, with/floor)
	sb.WriteString(strings.Join(cpuLines, "\n") + "\n")
	t.Log(sb.String())
	_ = os.WriteFile(cluster.LogDir+"/bench-scheduler.txt", []byte(sb.String()), 0o644)
}

// countBindings watches the namespace's pods and sends the time at which the last of `want` pods
// was seen bound (spec.nodeName set). A watch the apiserver ends is reopened from the last
// resourceVersion seen.
func countBindings(ctx context.Context, t *testing.T, client kubernetes.Interface, ns string, want int, done chan<- time.Time) {
	bound := map[string]bool{}
	rv := ""
	for ctx.Err() == nil {
		w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			rv = pod.ResourceVersion
			if (ev.Type == watch.Added || ev.Type == watch.Modified) && pod.Spec.NodeName != "" && !bound[pod.Name] {
				bound[pod.Name] = true
				if len(bound) == want {
					done <- time.Now()
					w.Stop()
					return
				}
			}
		}
	}
	t.Logf("bindings watch ended with %d of %d pods bound", len(bound), want)
}

func roundAll(v []float64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x + 0.5)
	}
	return out
}
