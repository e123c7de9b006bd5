package nodeagent

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/yaml"
)

const migPartedKey = "config.yaml" // the key the MIG manager reads from a custom mig-parted ConfigMap

// Agent runs the simulated GPU components for a set of fake nodes.
type Agent struct {
	client  kubernetes.Interface
	spec    Spec
	catalog *Catalog
	logf    func(format string, args ...any)

	mu      sync.Mutex
	nodes   map[string]*nodeState
	workers map[string]*worker
	visible map[string]*corev1.ConfigMap // what the mounted ConfigMap volumes show now (after ConfigMapDelay)

	nodeLister listerscorev1.NodeLister
	podLister  listerscorev1.PodLister
	pods       workqueue.TypedRateLimitingInterface[string]
	ctx        context.Context
}

type worker struct {
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// New makes an agent. logf may be nil (log.Printf).
func New(client kubernetes.Interface, spec *Spec, catalog *Catalog, logf func(string, ...any)) *Agent {
	if logf == nil {
		logf = log.Printf
	}
	s := *spec
	s.defaults()
	return &Agent{
		client: client, spec: s, catalog: catalog, logf: logf,
		nodes: map[string]*nodeState{}, workers: map[string]*worker{}, visible: map[string]*corev1.ConfigMap{},
	}
}

// Start seeds the GPU Operator's ConfigMaps, starts watching, creates the spec's nodes and returns once they exist.
// Everything stops when ctx is cancelled.
func (a *Agent) Start(ctx context.Context) error {
	a.ctx = ctx
	if err := a.seedConfigMaps(ctx, a.spec.Nodes); err != nil {
		return err
	}
	cmFactory := informers.NewSharedInformerFactoryWithOptions(a.client, 0, informers.WithNamespace(a.spec.Namespace))
	cmInf := cmFactory.Core().V1().ConfigMaps().Informer()
	factory := informers.NewSharedInformerFactoryWithOptions(a.client, 0)
	nodeInf := factory.Core().V1().Nodes()
	podInf := informers.NewSharedInformerFactoryWithOptions(a.client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermNotEqualSelector("spec.nodeName", "").String()
	})).Core().V1().Pods()
	a.nodeLister, a.podLister = nodeInf.Lister(), podInf.Lister()
	a.pods = workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())

	_, _ = cmInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { a.configMapChanged(o, false) },
		UpdateFunc: func(_, o any) { a.configMapChanged(o, false) },
		DeleteFunc: func(o any) { a.configMapChanged(o, true) },
	})
	_, _ = nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { a.nodeChanged(o) },
		UpdateFunc: func(_, o any) { a.nodeChanged(o) },
	})
	_, _ = podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    a.podChanged,
		UpdateFunc: func(_, o any) { a.podChanged(o) },
	})
	podFactoryInf := podInf.Informer()
	go cmInf.Run(ctx.Done())
	go podFactoryInf.Run(ctx.Done())
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), cmInf.HasSynced, nodeInf.Informer().HasSynced, podFactoryInf.HasSynced) {
		return fmt.Errorf("node agent: caches did not sync")
	}
	// At start the mounted volumes show the ConfigMaps as they are.
	a.mu.Lock()
	for _, o := range cmInf.GetStore().List() {
		cm := o.(*corev1.ConfigMap)
		a.visible[cm.Name] = cm.DeepCopy()
	}
	a.mu.Unlock()
	go func() {
		<-ctx.Done()
		a.pods.ShutDown()
	}()
	go a.runPods(ctx)
	for _, n := range a.spec.Nodes {
		if err := a.AddNode(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// AddNode creates (or takes over) a fake node and starts simulating its components. Its initial MIG layout is read
// from the mig-parted ConfigMap as the components see it; MPS nodes get a device-plugin.config key mps-<replicas>.
func (a *Agent) AddNode(ctx context.Context, ns NodeSpec) error {
	if err := ns.check(); err != nil {
		return err
	}
	if err := a.seedConfigMaps(ctx, []NodeSpec{ns}); err != nil {
		return err
	}
	st := &nodeState{spec: ns, model: a.catalog.ForProduct(ns.Product), memMiB: ns.MemoryMiB, share: sharing{Strategy: "none"}}
	if st.memMiB == 0 {
		st.memMiB = 24576
		if st.model != nil && st.model.DefaultMemoryMiB() > 0 {
			st.memMiB = st.model.DefaultMemoryMiB()
		}
	}
	st.gpus = make([]gpu, ns.Count)
	labels := map[string]string{}
	switch {
	case ns.DRA != "":
		if ns.MigConfig != "" { // static MIG, set up by mig-parted before the driver started
			entries, err := a.migConfig(ns.MigConfig)
			if err != nil {
				return fmt.Errorf("node %s: %w", ns.Name, err)
			}
			if st.gpus, err = st.layoutFrom(entries); err != nil {
				return fmt.Errorf("node %s: mig config %s: %w", ns.Name, ns.MigConfig, err)
			}
		}
		if _, err := st.ResourceSlices(1); err != nil { // before the node exists: a spec error leaves nothing behind
			return fmt.Errorf("node %s: %w", ns.Name, err)
		}
	case ns.Mode == ModeMPS:
		st.share = sharing{Strategy: "mps", Replicas: ns.Replicas, Rename: true}
		labels[LabelDevicePluginCfg] = fmt.Sprintf("mps-%d", ns.Replicas)
	case ns.Mode == ModeMIG:
		entries, err := a.migConfig(ns.MigConfig)
		if err != nil {
			return fmt.Errorf("node %s: %w", ns.Name, err)
		}
		if st.gpus, err = st.layoutFrom(entries); err != nil {
			return fmt.Errorf("node %s: mig config %s: %w", ns.Name, ns.MigConfig, err)
		}
		labels[LabelMIGConfig] = ns.MigConfig
	}
	if st.migCapable() && ns.DRA == "" {
		if labels[LabelMIGConfig] == "" {
			labels[LabelMIGConfig] = "all-disabled" // what the operator's node-labelling controller sets
		}
		st.migState = "success"
	}
	st.appliedMig = labels[LabelMIGConfig]
	st.appliedDP = labels[LabelDevicePluginCfg]
	for k, v := range st.labels() {
		labels[k] = v
	}

	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: ns.Name, Labels: labels}}
	for _, t := range ns.Taints {
		node.Spec.Taints = append(node.Spec.Taints, corev1.Taint{Key: t.Key, Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
	}
	created, err := a.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) { // take over a node left by an earlier run
		cur, gerr := a.client.CoreV1().Nodes().Get(ctx, ns.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		cur.Labels, cur.Spec.Taints = labels, node.Spec.Taints
		created, err = a.client.CoreV1().Nodes().Update(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("create node %s: %w", ns.Name, err)
	}
	now := metav1.Now()
	capacity, allocatable := st.capacity()
	created.Status = corev1.NodeStatus{
		Capacity: capacity, Allocatable: allocatable, Phase: corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			Message: "simulated by the gpushare e2e node agent", LastHeartbeatTime: now, LastTransitionTime: now}},
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: ns.Name}},
		NodeInfo:  corev1.NodeSystemInfo{KubeletVersion: "v1.36.3", OperatingSystem: "linux", Architecture: "amd64", ContainerRuntimeVersion: "fake://0"},
	}
	updated, err := a.client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("node %s status: %w", ns.Name, err)
	}
	// The NodeTaint admission plugin (TaintNodesByCondition) put node.kubernetes.io/not-ready on the new node; the
	// node lifecycle controller (not running here) lifts it once the node is Ready. Do its job.
	if err := a.liftNotReady(ctx, updated); err != nil {
		return fmt.Errorf("node %s: %w", ns.Name, err)
	}
	slices := 0
	if ns.DRA != "" {
		if slices, err = a.publishSlices(ctx, st, updated); err != nil {
			return fmt.Errorf("node %s: %w", ns.Name, err)
		}
	}

	// The node's components live as long as the agent (or until RemoveNode), not as long as the caller's ctx, which
	// only bounds the creation: a test's 30-second AddNode context must not silently stop the node's MIG manager.
	life := a.ctx
	if life == nil {
		life = ctx
	}
	wctx, cancel := context.WithCancel(life)
	w := &worker{kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	a.mu.Lock()
	if old := a.workers[ns.Name]; old != nil {
		old.cancel()
	}
	a.nodes[ns.Name], a.workers[ns.Name] = st, w
	a.mu.Unlock()
	go a.runNode(wctx, ns.Name, w)
	if ns.DRA != "" {
		a.logf("node %s: created (%s x%d, DRA driver %s, %s MIG %q, %d ResourceSlices)", ns.Name, ns.Product, ns.Count,
			DRADriver, ns.DRA, ns.MigConfig, slices)
		return nil
	}
	a.logf("node %s: created (%s x%d, mode %s, labels mig.config=%q device-plugin.config=%q)", ns.Name, ns.Product,
		ns.Count, ns.Mode, labels[LabelMIGConfig], labels[LabelDevicePluginCfg])
	return nil
}

func (a *Agent) liftNotReady(ctx context.Context, n *corev1.Node) error {
	for attempt := 0; attempt < 5; attempt++ {
		var keep []corev1.Taint
		for _, t := range n.Spec.Taints {
			if t.Key != corev1.TaintNodeNotReady && t.Key != corev1.TaintNodeUnreachable {
				keep = append(keep, t)
			}
		}
		if len(keep) == len(n.Spec.Taints) {
			return nil
		}
		n = n.DeepCopy()
		n.Spec.Taints = keep
		_, err := a.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return err
		}
		if n, err = a.client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{}); err != nil {
			return err
		}
	}
	return fmt.Errorf("too many conflicts lifting the not-ready taint")
}

// RemoveNode stops simulating a node and deletes it.
func (a *Agent) RemoveNode(ctx context.Context, name string) error {
	a.mu.Lock()
	w := a.workers[name]
	delete(a.workers, name)
	delete(a.nodes, name)
	a.mu.Unlock()
	if w != nil {
		w.cancel()
		<-w.done
	}
	if err := a.deleteSlices(ctx, name); err != nil {
		return fmt.Errorf("node %s: delete ResourceSlices: %w", name, err)
	}
	err := a.client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Nodes lists the names of the simulated nodes.
func (a *Agent) Nodes() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for n := range a.nodes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ---- ConfigMaps ------------------------------------------------------------------------------------------------

// seedConfigMaps creates the namespace and ConfigMaps when missing and adds the keys the nodes need (existing keys
// are kept: they are the cluster's).
func (a *Agent) seedConfigMaps(ctx context.Context, nodes []NodeSpec) error {
	_, err := a.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: a.spec.Namespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	dp := map[string]string{}
	for name, c := range a.spec.DevicePluginConfigs {
		b, err := yaml.Marshal(c)
		if err != nil {
			return err
		}
		dp[name] = string(b)
	}
	dp["mig-mixed"] = "version: v1\nflags:\n  migStrategy: mixed\n"
	for _, n := range nodes {
		if n.Mode == ModeMPS {
			dp[fmt.Sprintf("mps-%d", n.Replicas)] = fmt.Sprintf("version: v1\nflags:\n  migStrategy: mixed\nsharing:\n  mps:\n"+
				"    renameByDefault: true\n    resources:\n    - name: nvidia.com/gpu\n      replicas: %d\n", n.Replicas)
		}
	}
	if err := a.mergeConfigMap(ctx, a.spec.DevicePluginConfigMap, func(data map[string]string) bool {
		changed := false
		for k, v := range dp {
			if _, ok := data[k]; !ok {
				data[k], changed = v, true
			}
		}
		return changed
	}); err != nil {
		return err
	}
	return a.mergeConfigMap(ctx, a.spec.MigPartedConfigMap, func(data map[string]string) bool {
		var cfg MigPartedConfig
		if s, ok := data[migPartedKey]; ok {
			if err := yaml.Unmarshal([]byte(s), &cfg); err != nil {
				a.logf("mig-parted ConfigMap %s: %v (left as it is)", a.spec.MigPartedConfigMap, err)
				return false
			}
		}
		if cfg.Version == "" {
			cfg.Version = "v1"
		}
		if cfg.MigConfigs == nil {
			cfg.MigConfigs = map[string][]MigConfigEntry{}
		}
		add := map[string][]MigConfigEntry{"all-disabled": {{Devices: "all", MigEnabled: false}}}
		for k, v := range a.spec.MigConfigs {
			add[k] = v
		}
		changed := false
		for k, v := range add {
			if _, ok := cfg.MigConfigs[k]; !ok {
				cfg.MigConfigs[k], changed = v, true
			}
		}
		if changed {
			b, _ := yaml.Marshal(cfg)
			data[migPartedKey] = string(b)
		}
		return changed
	})
}

// mergeConfigMap read-modify-writes a ConfigMap with optimistic concurrency.
func (a *Agent) mergeConfigMap(ctx context.Context, name string, edit func(map[string]string) bool) error {
	cms := a.client.CoreV1().ConfigMaps(a.spec.Namespace)
	for attempt := 0; attempt < 10; attempt++ {
		cm, err := cms.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			data := map[string]string{}
			edit(data)
			_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.spec.Namespace}, Data: data}, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			return err
		}
		if err != nil {
			return err
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		if !edit(cm.Data) {
			return nil
		}
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err == nil {
			a.setVisibleNow(name) // the agent's own seeding is there before its nodes start
		}
		return err
	}
	return fmt.Errorf("configmap %s: too many conflicts", name)
}

func (a *Agent) setVisibleNow(name string) {
	cm, err := a.client.CoreV1().ConfigMaps(a.spec.Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return
	}
	a.mu.Lock()
	a.visible[name] = cm
	a.mu.Unlock()
}

// configMapChanged makes a ConfigMap change visible to the simulated components after ConfigMapDelay.
func (a *Agent) configMapChanged(o any, deleted bool) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	cm, ok := o.(*corev1.ConfigMap)
	if !ok {
		return
	}
	cm = cm.DeepCopy()
	apply := func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		// One timer per event, each on its own goroutine: two events a few milliseconds apart can apply in either
		// order, and setVisibleNow may already show a newer copy. A volume never goes back to an older copy.
		if cur := a.visible[cm.Name]; !deleted && cur != nil && !newerVersion(cm.ResourceVersion, cur.ResourceVersion) {
			return
		}
		if deleted {
			delete(a.visible, cm.Name)
		} else {
			a.visible[cm.Name] = cm
		}
	}
	if a.spec.ConfigMapDelay.Duration <= 0 {
		apply()
		return
	}
	time.AfterFunc(a.spec.ConfigMapDelay.Duration, apply)
}

// newerVersion says whether resourceVersion a comes after b. They are opaque to clients in general; this agent
// talks to one etcd-backed API server, whose versions are increasing integers (a version that is not one counts as
// newer, so a change is never hidden).
func newerVersion(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	if errA != nil || errB != nil {
		return a != b
	}
	return x > y
}

func (a *Agent) visibleData(name, key string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cm := a.visible[name]
	if cm == nil {
		return "", false
	}
	v, ok := cm.Data[key]
	return v, ok
}

func (a *Agent) visibleVersion(name string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cm := a.visible[name]; cm != nil {
		return cm.ResourceVersion
	}
	return "none"
}

// migConfig reads mig-configs[name] from the mig-parted ConfigMap as mounted.
func (a *Agent) migConfig(name string) ([]MigConfigEntry, error) {
	s, ok := a.visibleData(a.spec.MigPartedConfigMap, migPartedKey)
	if !ok {
		return nil, fmt.Errorf("ConfigMap %s/%s has no key %s", a.spec.Namespace, a.spec.MigPartedConfigMap, migPartedKey)
	}
	var cfg MigPartedConfig
	if err := yaml.UnmarshalStrict([]byte(s), &cfg); err != nil {
		return nil, fmt.Errorf("mig-parted config: %w", err)
	}
	if cfg.Version != "v1" {
		return nil, fmt.Errorf("mig-parted config: version %q, want v1", cfg.Version)
	}
	entries, ok := cfg.MigConfigs[name]
	if !ok || len(entries) == 0 {
		return nil, fmt.Errorf("mig-parted config %q not found in %s/%s (the copy visible here: resourceVersion %s)",
			name, a.spec.Namespace, a.spec.MigPartedConfigMap, a.visibleVersion(a.spec.MigPartedConfigMap))
	}
	return entries, nil
}

// ---- per-node simulation -------------------------------------------------------------------------------------------

func (a *Agent) nodeChanged(o any) {
	n, ok := o.(*corev1.Node)
	if !ok {
		return
	}
	a.mu.Lock()
	w, st := a.workers[n.Name], a.nodes[n.Name]
	// A DRA node has no MIG manager and no device-plugin config-manager: nothing reacts to those labels there.
	kick := st != nil && st.spec.DRA == "" && (n.Labels[LabelMIGConfig] != st.appliedMig || n.Labels[LabelDevicePluginCfg] != st.appliedDP)
	a.mu.Unlock()
	if kick {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

func (a *Agent) runNode(ctx context.Context, name string, w *worker) {
	defer close(w.done)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		case <-retry.C:
		}
		n, err := a.nodeLister.Get(name)
		if err != nil {
			continue
		}
		a.mu.Lock()
		st := a.nodes[name]
		a.mu.Unlock()
		if st == nil {
			return
		}
		// The MIG manager and the device plugin's config-manager are separate; here they take turns.
		if v := n.Labels[LabelMIGConfig]; v != st.appliedMig {
			a.reconfigureMIG(ctx, st, v)
		}
		if v := n.Labels[LabelDevicePluginCfg]; v != st.appliedDP {
			if !a.reconfigureDevicePlugin(ctx, st, v) {
				retry.Reset(2 * time.Second) // the config-manager container restarts and tries again
			}
		}
	}
}

// reconfigureMIG is the MIG manager's Reconfigure.Run for label value x (nvidia.md 5.2).
func (a *Agent) reconfigureMIG(ctx context.Context, st *nodeState, x string) {
	name := st.spec.Name
	a.mu.Lock()
	st.appliedMig = x // acted on once; a failed value is not retried until the label changes
	a.mu.Unlock()
	if x == "" { // an empty value is ignored
		return
	}
	fail := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		a.logf("node %s: mig-manager: %s: state failed", name, msg)
		a.mu.Lock()
		st.pending, st.migState = false, "failed"
		a.mu.Unlock()
		a.publish(ctx, st, "mig-manager: "+msg)
	}
	if !st.migCapable() {
		fail("%s is not MIG-capable", st.spec.Product)
		return
	}
	entries, err := a.migConfig(x)
	if err != nil {
		fail("%v", err)
		return
	}
	next, err := st.layoutFrom(entries)
	if err != nil {
		fail("config %s: %v", x, err)
		return
	}
	var changing []int
	for i := range st.gpus {
		if !st.gpus[i].equal(next[i]) {
			changing = append(changing, i)
		}
	}
	if len(changing) == 0 { // already applied: success at once, nothing paused
		a.mu.Lock()
		st.migState = "success"
		a.mu.Unlock()
		a.publish(ctx, st, "")
		a.logf("node %s: mig-manager: %s already applied: success", name, x)
		return
	}
	a.logf("node %s: mig-manager: applying %s to GPUs %v: pending", name, x, changing)
	a.mu.Lock()
	st.pending, st.migState = true, "pending"
	a.mu.Unlock()
	a.publish(ctx, st, "")
	select {
	case <-ctx.Done():
		return
	case <-time.After(a.spec.ReconfigureDelay.Duration):
	}
	// mig-parted apply: busy instances fail with ERROR_IN_USE; MPS holds a full GPU whose MIG mode would change.
	busy := map[corev1.ResourceName]bool{}
	for _, i := range changing {
		for _, r := range resourcesOn(st.gpus[i]) {
			busy[r] = true
		}
		if !st.gpus[i].MigEnabled && next[i].MigEnabled && st.share.Strategy == "mps" {
			fail("GPU %d: MIG mode cannot change while the MPS control daemon holds it (move nvidia.com/device-plugin.config off MPS first)", i)
			return
		}
	}
	if pods, err := a.podLister.List(labels.Everything()); err == nil {
		for _, p := range pods {
			if p.Spec.NodeName != name || !podActive(p) || p.DeletionTimestamp != nil {
				continue
			}
			if uses := podUses(p, busy); len(uses) > 0 {
				fail("applying %s: ERROR_IN_USE: pod %s/%s holds %s on a GPU being reconfigured", x, p.Namespace, p.Name, strings.Join(uses, ", "))
				return
			}
		}
	}
	if st.spec.FailMig {
		fail("applying %s: GPU reset failed (nodeagent failMig): the GPUs keep their old layout", x)
		return
	}
	a.mu.Lock()
	st.gpus, st.pending, st.migState = next, false, "success"
	a.mu.Unlock()
	a.publish(ctx, st, "")
	a.logf("node %s: mig-manager: %s applied: success %v", name, x, st.gpuResources())
}

// reconfigureDevicePlugin is the config-manager's reaction to a new nvidia.com/device-plugin.config value (nvidia.md
// 1.5). It returns false when the key is not (yet) visible: the sidecar exits, restarts, and tries again.
func (a *Agent) reconfigureDevicePlugin(ctx context.Context, st *nodeState, v string) bool {
	name := st.spec.Name
	next := sharing{Strategy: "none"}
	if v != "" { // unset: the operator's default config (empty: no sharing)
		s, ok := a.visibleData(a.spec.DevicePluginConfigMap, v)
		if !ok {
			msg := fmt.Sprintf("config-manager: specified config %s does not exist (the plugin keeps its old config)", v)
			a.logf("node %s: %s", name, msg)
			a.publish(ctx, st, msg)
			return false
		}
		var cfg DevicePluginConfig
		if err := yaml.Unmarshal([]byte(s), &cfg); err != nil || (cfg.Version != "" && cfg.Version != "v1") {
			msg := fmt.Sprintf("device-plugin: config %s: unparsable or unknown version (%v)", v, err)
			a.logf("node %s: %s", name, msg)
			a.mu.Lock()
			st.appliedDP = v
			a.mu.Unlock()
			a.publish(ctx, st, msg)
			return true
		}
		if cfg.Sharing != nil {
			for strategy, rr := range map[string]*ReplicatedResources{"mps": cfg.Sharing.MPS, "time-slicing": cfg.Sharing.TimeSlicing} {
				if rr == nil || next.Strategy == "mps" {
					continue
				}
				for _, r := range rr.Resources {
					if (r.Name == "nvidia.com/gpu" || r.Name == "gpu") && r.Replicas > 1 {
						next = sharing{Strategy: strategy, Replicas: r.Replicas, Rename: rr.RenameByDefault}
					}
				}
			}
		}
	}
	a.mu.Lock()
	st.appliedDP = v
	migOn := st.fullGPUs() < len(st.gpus)
	a.mu.Unlock()
	if next.Strategy == "mps" && migOn {
		msg := fmt.Sprintf("device-plugin: config %s: sharing using MPS is not supported for MIG devices", v)
		a.logf("node %s: %s", name, msg)
		a.publish(ctx, st, msg)
		return true
	}
	select { // SIGHUP: the plugin, GFD and the MPS daemon restart
	case <-ctx.Done():
		return true
	case <-time.After(a.spec.ReconfigureDelay.Duration):
	}
	a.mu.Lock()
	st.share = next
	a.mu.Unlock()
	a.publish(ctx, st, "")
	a.logf("node %s: device-plugin: config %q applied: sharing %+v, %v", name, v, next, st.gpuResources())
	return true
}

// publish writes the node's labels and status as the state says (merge patches; stale keys are removed).
// publish writes the node's state, retrying until it lands (every 2 s) or ctx ends: the real components
// report through the API server too, and when it is down their write fails, the container exits and restarts,
// and the report is made again (a state that was never reported would leave the node "pending" for ever).
func (a *Agent) publish(ctx context.Context, st *nodeState, lastError string) {
	for !a.publishOnce(ctx, st, lastError) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

func (a *Agent) publishOnce(ctx context.Context, st *nodeState, lastError string) bool {
	a.mu.Lock()
	want := st.labels()
	capacity, allocatable := st.capacity()
	name := st.spec.Name
	a.mu.Unlock()
	cur, err := a.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		a.logf("node %s: %v", name, err)
		return false
	}
	labels := map[string]any{}
	for k := range cur.Labels {
		if _, ok := want[k]; !ok && managedLabel(k) {
			labels[k] = nil
		}
	}
	for k, v := range want {
		labels[k] = v
	}
	// Status first: once the labels say success, allocatable is already the new one.
	resources := func(cur, want corev1.ResourceList) map[string]any {
		m := map[string]any{}
		for k := range cur {
			if _, ok := want[k]; !ok {
				m[string(k)] = nil
			}
		}
		for k, v := range want {
			m[string(k)] = v.String()
		}
		return m
	}
	status := map[string]any{"status": map[string]any{
		"capacity":    resources(cur.Status.Capacity, capacity),
		"allocatable": resources(cur.Status.Allocatable, allocatable),
	}}
	if err := a.patch(ctx, name, status, "status"); err != nil {
		a.logf("node %s: status: %v", name, err)
		return false
	}
	meta := map[string]any{"labels": labels}
	if lastError != "" {
		meta["annotations"] = map[string]any{AnnotationError: time.Now().UTC().Format(time.RFC3339) + " " + lastError}
	}
	if err := a.patch(ctx, name, map[string]any{"metadata": meta}, ""); err != nil {
		a.logf("node %s: labels: %v", name, err)
		return false
	}
	return true
}

func (a *Agent) patch(ctx context.Context, name string, body map[string]any, sub string) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	var subs []string
	if sub != "" {
		subs = []string{sub}
	}
	_, err = a.client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, b, metav1.PatchOptions{}, subs...)
	return err
}

// ---- kubelet: pods bound to fake nodes -------------------------------------------------------------------------------

func (a *Agent) podChanged(o any) {
	p, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	_, ours := a.nodes[p.Spec.NodeName]
	a.mu.Unlock()
	if !ours {
		return
	}
	if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodPending || p.Status.Phase == "" {
		a.pods.Add(p.Namespace + "/" + p.Name)
	}
}

func (a *Agent) runPods(ctx context.Context) {
	for {
		key, quit := a.pods.Get()
		if quit {
			return
		}
		if err := a.syncPod(ctx, key); err != nil {
			a.logf("pod %s: %v", key, err)
			a.pods.AddRateLimited(key)
		} else {
			a.pods.Forget(key)
		}
		a.pods.Done(key)
	}
}

// syncPod does what a kubelet would: a bound pod starts Running; a pod being deleted is removed once "stopped".
func (a *Agent) syncPod(ctx context.Context, key string) error {
	ns, name, _ := strings.Cut(key, "/")
	p, err := a.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	pods := a.client.CoreV1().Pods(ns)
	if p.DeletionTimestamp != nil {
		zero := int64(0)
		uid := p.UID
		err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}
	if p.Status.Phase != corev1.PodPending && p.Status.Phase != "" {
		return nil
	}
	now := metav1.Now()
	var conds []corev1.PodCondition
	for _, t := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		conds = append(conds, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
	}
	var cs []corev1.ContainerStatus
	for _, c := range p.Spec.Containers {
		cs = append(cs, corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: "fake://" + c.Image, Ready: true, Started: ptr(true),
			ContainerID: "fake://" + string(p.UID) + "/" + c.Name,
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
	}
	p = p.DeepCopy()
	p.Status.Phase, p.Status.Conditions, p.Status.ContainerStatuses = corev1.PodRunning, conds, cs
	p.Status.HostIP, p.Status.PodIP, p.Status.StartTime = "127.0.0.1", "10.244.0.1", &now
	p.Status.HostIPs, p.Status.PodIPs = []corev1.HostIP{{IP: "127.0.0.1"}}, []corev1.PodIP{{IP: "10.244.0.1"}}
	_, err = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func ptr[T any](v T) *T { return &v }
