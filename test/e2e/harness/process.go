package harness

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is one component, run in its own process group so that it and anything it spawns are stopped together,
// by process-group id, never by name.
type Process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{}
	err     error
}

// startProcess runs bin args..., stdout and stderr appended to logPath.
func startProcess(name, logPath string, env []string, bin string, args ...string) (*Process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "==== %s: %s %q\n", time.Now().Format(time.RFC3339), bin, args)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	// Setpgid: stop the whole group. Pdeathsig: if the test process dies, the kernel kills the component too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, logFile: f, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		fmt.Fprintf(f, "==== %s: %s exited: %v\n", time.Now().Format(time.RFC3339), name, p.err)
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process (and process group) id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM to the process group, waits up to grace, then SIGKILLs the group.
func (p *Process) Stop(grace time.Duration) {
	if p == nil {
		return
	}
	if done, _ := p.Exited(); done {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// Kill sends SIGKILL to the process group at once (no chance to clean up, as when a pod is OOM-killed or its node
// dies) and waits until the process has exited.
func (p *Process) Kill() {
	if p == nil {
		return
	}
	if done, _ := p.Exited(); done {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// CPUSeconds is the user + system CPU time a process has used so far (/proc/<pid>/stat), for benchmarks that
// split a run's CPU between the components.
func CPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: fields count from the last ')'.
	s := string(b)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[end+1:])
	// After the name: state(3) ... utime(14) stime(15), so utime is f[11] and stime f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q, stime %q", pid, f[11], f[12])
	}
	return (utime + stime) / clockTicks, nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux architecture Go supports.
const clockTicks = 100

// ComponentCPU is CPUSeconds of each named component of the cluster (etcd, kube-apiserver, kube-scheduler,
// gpushare, as started), and "e2e.test" for this process; a component that is not running is left out.
func (c *Cluster) ComponentCPU(names ...string) map[string]float64 {
	out := map[string]float64{}
	for _, name := range names {
		pid := os.Getpid()
		if name != "e2e.test" {
			c.mu.Lock()
			p := c.procs[name]
			c.mu.Unlock()
			if p == nil {
				continue
			}
			pid = p.Pid()
		}
		if s, err := CPUSeconds(pid); err == nil {
			out[name] = s
		}
	}
	return out
}
