package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/node/api"
	"github.com/wake-run/wake/services/client"
	"golang.org/x/sys/unix"
)

// ExecOptions are the flags and command of `wake exec`.
type ExecOptions struct {
	Namespace string
	Pod       string
	Container string // "" is the pod's only container
	Cmd       []string
	Stdin     bool
	TTY       bool
}

// ExitError is a command that ran in a container and exited non-zero.
type ExitError struct{ Code int }

func (e *ExitError) Error() string {
	return fmt.Sprintf("command terminated with exit code %d", e.Code)
}

// Exec runs a command in a pod's container, as `wake exec`, and returns its exit
// code. stdin is read (and sent) only with o.Stdin.
func Exec(ctx context.Context, c *client.Client, o ExecOptions, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if len(o.Cmd) == 0 {
		return 0, errors.New("you must specify at least one command for the container")
	}
	node, ctr, err := c.PodTarget(ctx, o.Namespace, o.Pod, o.Container)
	if err != nil {
		return 0, err
	}
	inbox := c.NC.NewRespInbox()
	sub, err := c.NC.SubscribeSync(inbox + ".*")
	if err != nil {
		return 0, err
	}
	defer sub.Unsubscribe()
	_ = sub.SetPendingLimits(-1, -1)
	req, _ := json.Marshal(api.ExecRequest{Namespace: o.Namespace, Pod: o.Pod, Container: ctr, Cmd: o.Cmd,
		TTY: o.TTY, Stdin: o.Stdin, Inbox: inbox})
	msg, err := c.NC.Request(api.ExecSubject(node), req, 30*time.Second)
	if err != nil {
		return 0, fmt.Errorf("node %s does not answer: %v", node, err)
	}
	var reply api.ExecReply
	if err := json.Unmarshal(msg.Data, &reply); err != nil {
		return 0, err
	}
	if reply.Error != "" {
		return 0, errors.New(reply.Error)
	}
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client.KeepAlive(kctx, c.NC, reply.Session+".alive")
	if o.Stdin && stdin != nil {
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := stdin.Read(buf)
				if n > 0 {
					if c.NC.Publish(reply.Session+".in", buf[:n]) != nil {
						return
					}
				}
				if err != nil {
					_ = c.NC.Publish(reply.Session+".in", nil) // end of file
					return
				}
				if kctx.Err() != nil {
					return
				}
			}
		}()
	}
	for {
		m, err := sub.NextMsgWithContext(kctx)
		if err != nil {
			return 0, fmt.Errorf("exec in pod %s: %v", o.Pod, err)
		}
		switch {
		case strings.HasSuffix(m.Subject, ".out"):
			if _, err := stdout.Write(m.Data); err != nil {
				return 0, err
			}
		case strings.HasSuffix(m.Subject, ".err"):
			if _, err := stderr.Write(m.Data); err != nil {
				return 0, err
			}
		case strings.HasSuffix(m.Subject, ".exit"):
			var e api.ExecExit
			if err := json.Unmarshal(m.Data, &e); err != nil {
				return 0, err
			}
			if e.Error != "" {
				return 0, errors.New(e.Error)
			}
			return e.Code, nil
		}
	}
}

func newExecCmd(g *globals) *cobra.Command {
	o := ExecOptions{}
	cmd := &cobra.Command{
		Use:   "exec POD [-c CONTAINER] [-i] [-t] -- COMMAND [ARGS...]",
		Short: "Run a command in a container of a pod",
		Example: `  wake exec web-7d4f9 -- cat /etc/hosts
  wake exec -it web-7d4f9 -- sh`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return errors.New("pod name and command are required (wake exec POD -- COMMAND)")
			}
			if len(args) < 2 {
				return errors.New("you must specify at least one command for the container")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			o.Namespace, o.Pod, o.Cmd = g.ns(), args[0], args[1:]
			in := cmd.InOrStdin()
			restore := func() {}
			if o.TTY && o.Stdin {
				if f, ok := in.(*os.File); ok {
					if r, err := rawTerminal(int(f.Fd())); err == nil {
						restore = r
					}
				}
			}
			code, err := Exec(ctx, c, o, in, g.out, g.errOut)
			restore()
			if err != nil {
				return err
			}
			if code != 0 {
				return &ExitError{Code: code} // Main exits with it, as kubectl
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&o.Container, "container", "c", "", "the container (default: the pod's only container)")
	cmd.Flags().BoolVarP(&o.Stdin, "stdin", "i", false, "pass standard input to the command")
	cmd.Flags().BoolVarP(&o.TTY, "tty", "t", false, "run the command on a terminal")
	return cmd
}

// rawTerminal puts the terminal fd in raw mode (with -it) and returns how to
// restore it; it fails when fd is not a terminal.
func rawTerminal(fd int) (func(), error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, err
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}
