package object

import (
	"encoding/json"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxDataSize is the most a ConfigMap or Secret may hold (its keys' values in
// total), as in Kubernetes.
const maxDataSize = 1 << 20

// SealedAnnotation marks a Secret whose data values are sealed (services/secrets).
// Each sealed value is its plaintext and SealOverhead bytes more (AES-GCM's 12-byte
// nonce and 16-byte tag); the data limit applies to the plaintext.
const (
	SealedAnnotation = "wake.io/sealed"
	SealOverhead     = 12 + 16
)

func validateConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	var errs field.ErrorList
	size := 0
	for _, key := range sortedKeys(cm.Data) {
		errs = append(errs, validateDataKey(field.NewPath("data").Key(key), key)...)
		size += len(cm.Data[key])
	}
	for _, key := range sortedKeys(cm.BinaryData) {
		kp := field.NewPath("binaryData").Key(key)
		errs = append(errs, validateDataKey(kp, key)...)
		if _, dup := cm.Data[key]; dup {
			errs = append(errs, field.Invalid(kp, key, "duplicate of key present in data"))
		}
		size += len(cm.BinaryData[key])
	}
	if size > maxDataSize {
		errs = append(errs, field.TooLong(field.NewPath("data"), "", maxDataSize))
	}
	return errs
}

// secretRequiredKeys are the data keys each well-known Secret type needs.
var secretRequiredKeys = map[corev1.SecretType][]string{
	corev1.SecretTypeDockercfg:        {corev1.DockerConfigKey},
	corev1.SecretTypeDockerConfigJson: {corev1.DockerConfigJsonKey},
	corev1.SecretTypeSSHAuth:          {corev1.SSHAuthPrivateKey},
	corev1.SecretTypeTLS:              {corev1.TLSCertKey, corev1.TLSPrivateKeyKey},
}

// validateSecret checks a defaulted Secret (stringData already merged into data):
// keys, total size, and the keys and annotations its type requires.
func validateSecret(s *corev1.Secret) field.ErrorList {
	var errs field.ErrorList
	dataPath := field.NewPath("data")
	size := 0
	_, sealed := s.Annotations[SealedAnnotation]
	for _, key := range sortedKeys(s.Data) {
		errs = append(errs, validateDataKey(dataPath.Key(key), key)...)
		size += len(s.Data[key])
		if sealed {
			size -= min(SealOverhead, len(s.Data[key]))
		}
	}
	if size > maxDataSize {
		errs = append(errs, field.TooLong(dataPath, "", maxDataSize))
	}
	for _, key := range secretRequiredKeys[s.Type] {
		if _, ok := s.Data[key]; !ok {
			errs = append(errs, field.Required(dataPath.Key(key), fmt.Sprintf("a Secret of type %s needs data[%s]", s.Type, key)))
		}
	}
	switch s.Type {
	case corev1.SecretTypeDockercfg, corev1.SecretTypeDockerConfigJson:
		key := secretRequiredKeys[s.Type][0]
		// A sealed value is ciphertext: it was checked before it was sealed.
		if v, ok := s.Data[key]; ok && !sealed && !json.Valid(v) {
			errs = append(errs, field.Invalid(dataPath.Key(key), "<secret contents redacted>", "must be valid JSON"))
		}
	case corev1.SecretTypeBasicAuth:
		_, user := s.Data[corev1.BasicAuthUsernameKey]
		_, password := s.Data[corev1.BasicAuthPasswordKey]
		if !user && !password {
			errs = append(errs, field.Required(dataPath.Key(corev1.BasicAuthUsernameKey),
				"a Secret of type kubernetes.io/basic-auth needs data[username] or data[password]"))
		}
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey),
				"a Secret of type kubernetes.io/service-account-token names its service account"))
		}
	}
	return errs
}

func validateDataKey(p *field.Path, key string) field.ErrorList {
	return invalidEach(p, key, validation.IsConfigMapKey(key))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
