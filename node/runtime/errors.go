package runtime

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound: no such container, sandbox or (for CreateContainer)
	// image.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: CreateContainer for an attempt that exists already.
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalid: a configuration the runtime refuses (no command to run, a
	// reserved label, an empty pod UID); the message says which field.
	ErrInvalid = errors.New("invalid configuration")
	// ErrNotRunning: Exec in a container whose process does not run, or
	// StartContainer of one that has exited.
	ErrNotRunning = errors.New("container is not running")
	// ErrInvalidImageName: the image reference cannot be parsed
	// (Kubernetes' InvalidImageName).
	ErrInvalidImageName = errors.New("invalid image name")
	// ErrImageNeverPull: pull policy Never and the image is not present
	// (Kubernetes' ErrImageNeverPull).
	ErrImageNeverPull = errors.New("image is not present and the pull policy is Never")
	// ErrImagePull is wrapped by every *PullError (Kubernetes' ErrImagePull).
	ErrImagePull = errors.New("image pull failed")
	// ErrConfig: the container's configuration cannot be honoured on this
	// node (runAsNonRoot and a root image, a missing seccomp profile):
	// Kubernetes' CreateContainerConfigError.
	ErrConfig = errors.New("container config error")
)

// PullError is a failed image pull. Message is what the registry (or the
// connection to it) said, for the pod's events.
type PullError struct {
	Ref     string
	Message string
	Err     error
}

func (e *PullError) Error() string {
	return fmt.Sprintf("pull %s: %s", e.Ref, e.Message)
}

// Is makes errors.Is(err, ErrImagePull) true for every *PullError.
func (e *PullError) Is(target error) bool { return target == ErrImagePull }

// Unwrap returns the underlying error, for errors.Is on context errors.
func (e *PullError) Unwrap() error { return e.Err }

// ConfigError is a container configuration the node cannot honour; Message
// is the kubelet's words for it (the CreateContainerConfigError message).
type ConfigError struct{ Message string }

// ConfigErrorf makes a *ConfigError.
func ConfigErrorf(format string, args ...any) error {
	return &ConfigError{Message: fmt.Sprintf(format, args...)}
}

func (e *ConfigError) Error() string { return e.Message }

// Is makes errors.Is(err, ErrConfig) true for every *ConfigError.
func (e *ConfigError) Is(target error) bool { return target == ErrConfig }
