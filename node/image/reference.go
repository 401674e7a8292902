package image

import (
	"errors"
	"fmt"

	"github.com/distribution/reference"
)

// ErrInvalidReference is wrapped by every error about an image reference that
// cannot be parsed (upper-case repository, empty name, bad tag or digest).
var ErrInvalidReference = errors.New("invalid image reference")

// Normalize returns ref in the fully qualified form containerd stores images
// under, with Docker's rules: a missing registry is docker.io, a docker.io name
// without a path gets library/, and a missing tag is :latest unless ref has a
// digest ("busybox" -> "docker.io/library/busybox:latest",
// "wake.local/hostname-web:1" unchanged). A ref with both a tag and a digest
// keeps only the digest, which is what pins the content. containerd never
// normalises names itself, so the importer and the pod's image field must both
// go through Normalize to meet.
func Normalize(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidReference, ref, err)
	}
	return named.String(), nil
}

// Familiar returns the short form Docker prints for a reference
// ("docker.io/library/busybox:latest" -> "busybox:latest"); other registries
// are kept. ref must be valid.
func Familiar(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidReference, ref, err)
	}
	return reference.FamiliarString(named), nil
}

// normalizeTagged is Normalize for names an archive gives to an image: the
// result must carry a tag, because a digest alone names content, not an image.
func normalizeTagged(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidReference, ref, err)
	}
	if _, ok := named.(reference.Tagged); !ok {
		return "", fmt.Errorf("%w %q: an image name needs a tag, not a digest", ErrInvalidReference, ref)
	}
	return named.String(), nil
}
