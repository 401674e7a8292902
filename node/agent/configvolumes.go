package agent

import (
	"errors"
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// volumeFile is one file of a configMap, secret, downwardAPI or projected
// volume: its content and mode.
type volumeFile struct {
	data []byte
	mode int32
}

// defaultFileMode is the kubelet's default mode of a volume's files (0644).
const defaultFileMode int32 = 0o644

// isConfigVolume reports whether the agent builds the volume's files from the
// API: configMap, secret, downwardAPI and projected volumes.
func isConfigVolume(v *corev1.Volume) bool {
	return v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
}

// inMemory reports whether the volume's files live on tmpfs, never on disk:
// secret and projected volumes, as the kubelet keeps them.
func inMemory(v *corev1.Volume) bool { return v.Secret != nil || v.Projected != nil }

// volumeFiles is what a config volume holds, by relative path. A missing
// ConfigMap, Secret or key that is not optional is an error in the kubelet's
// words: the pod does not start until it exists. It is pure but for what src
// reads.
func volumeFiles(v *corev1.Volume, pod *corev1.Pod, facts podFacts, src configSource) (map[string]volumeFile, error) {
	files := map[string]volumeFile{}
	var err error
	switch {
	case v.ConfigMap != nil:
		err = configMapFiles(files, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, modeOr(v.ConfigMap.DefaultMode), pod, src)
	case v.Secret != nil:
		err = secretFiles(files, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, modeOr(v.Secret.DefaultMode), pod, src)
	case v.DownwardAPI != nil:
		err = downwardFiles(files, v.DownwardAPI.Items, modeOr(v.DownwardAPI.DefaultMode), pod, facts)
	case v.Projected != nil:
		mode := modeOr(v.Projected.DefaultMode)
		for _, s := range v.Projected.Sources {
			switch {
			case s.ConfigMap != nil:
				err = configMapFiles(files, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, mode, pod, src)
			case s.Secret != nil:
				err = secretFiles(files, s.Secret.Name, s.Secret.Items, s.Secret.Optional, mode, pod, src)
			case s.DownwardAPI != nil:
				err = downwardFiles(files, s.DownwardAPI.Items, mode, pod, facts)
			}
			// Other sources (serviceAccountToken, clusterTrustBundle) are left
			// out: apply warns that they are not enforced.
			if err != nil {
				break
			}
		}
	default:
		return nil, errors.New("not a configMap, secret, downwardAPI or projected volume")
	}
	if err != nil {
		return nil, err
	}
	for p := range files {
		if err := checkVolumePath(p); err != nil {
			return nil, err
		}
	}
	return files, nil
}

func modeOr(m *int32) int32 {
	if m != nil {
		return *m
	}
	return defaultFileMode
}

// keyFiles places data's keys (all of them, or the items' keys at their paths)
// in files. what names the source in errors ("configmap", "secret").
func keyFiles(files map[string]volumeFile, data map[string][]byte, items []corev1.KeyToPath, opt bool, mode int32, what string) error {
	if len(items) == 0 {
		for k, v := range data {
			files[k] = volumeFile{data: v, mode: mode}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if opt {
				continue
			}
			return fmt.Errorf("%s references non-existent %s key: %s", what, strings.TrimSuffix(what, "map"), it.Key)
		}
		files[it.Path] = volumeFile{data: v, mode: modeOr(orMode(it.Mode, mode))}
	}
	return nil
}

func orMode(m *int32, def int32) *int32 {
	if m != nil {
		return m
	}
	return &def
}

func configMapFiles(files map[string]volumeFile, name string, items []corev1.KeyToPath, opt *bool, mode int32, pod *corev1.Pod, src configSource) error {
	cm, err := src.ConfigMap(pod.Namespace, name)
	if err != nil {
		if optional(opt) && errors.Is(err, errConfigNotFound) {
			return nil // an empty volume
		}
		return err
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyFiles(files, data, items, optional(opt), mode, "configmap")
}

func secretFiles(files map[string]volumeFile, name string, items []corev1.KeyToPath, opt *bool, mode int32, pod *corev1.Pod, src configSource) error {
	s, err := src.Secret(pod.Namespace, name)
	if err != nil {
		if optional(opt) && errors.Is(err, errConfigNotFound) {
			return nil
		}
		return err
	}
	return keyFiles(files, s.Data, items, optional(opt), mode, "secret")
}

func downwardFiles(files map[string]volumeFile, items []corev1.DownwardAPIVolumeFile, mode int32, pod *corev1.Pod, facts podFacts) error {
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = podField(pod, it.FieldRef.FieldPath, facts)
		case it.ResourceFieldRef != nil:
			v, err = resourceField(pod, nil, it.ResourceFieldRef, facts)
		default:
			err = fmt.Errorf("downwardAPI item %s names neither fieldRef nor resourceFieldRef", it.Path)
		}
		if err != nil {
			return err
		}
		files[it.Path] = volumeFile{data: []byte(v), mode: modeOr(orMode(it.Mode, mode))}
	}
	return nil
}

// checkVolumePath refuses paths that would leave the volume or hide its
// bookkeeping: absolute, with .., or starting with "..".
func checkVolumePath(p string) error {
	switch {
	case p == "" || path.IsAbs(p):
		return fmt.Errorf("volume file path %q: must be a relative path", p)
	case strings.HasPrefix(p, ".."):
		return fmt.Errorf("volume file path %q: must not start with '..'", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fmt.Errorf("volume file path %q: must not contain '..'", p)
		}
	}
	return nil
}
