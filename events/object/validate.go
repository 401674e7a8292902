package object

import (
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validate checks a defaulted object as the Kubernetes API server does on create,
// returning every problem as a field error that names the path and says what is
// allowed ("spec.replicas: Invalid value: -1: must be greater than or equal to 0").
// The namespace may be empty: the caller fills it in later. Validate does not look
// at status, which the server owns.
func Validate(obj Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return append(validateMeta(o, false, apivalidation.NameIsDNSLabel), validateNamespace(o)...)
	case *corev1.Node:
		return append(validateMeta(o, false, apivalidation.NameIsDNSSubdomain), validateNode(o)...)
	case *corev1.Pod:
		return append(validateMeta(o, true, apivalidation.NameIsDNSSubdomain), validatePodSpec(&o.Spec, field.NewPath("spec"))...)
	case *appsv1.Deployment:
		return append(validateMeta(o, true, apivalidation.NameIsDNSSubdomain), validateDeployment(o)...)
	case *appsv1.ReplicaSet:
		return append(validateMeta(o, true, apivalidation.NameIsDNSSubdomain), validateReplicaSet(o)...)
	case *corev1.Service:
		return append(validateMeta(o, true, apivalidation.NameIsDNS1035Label), validateService(o)...)
	case *corev1.Endpoints:
		return append(validateMeta(o, true, apivalidation.NameIsDNSSubdomain), validateEndpoints(o)...)
	case *corev1.ConfigMap:
		return append(validateMeta(o, true, apivalidation.NameIsDNSSubdomain), validateConfigMap(o)...)
	case *corev1.Secret:
		return append(validateMeta(o, true, apivalidation.NameIsDNSSubdomain), validateSecret(o)...)
	case *discoveryv1.EndpointSlice:
		return append(validateMeta(o, true, apivalidation.NameIsDNSSubdomain), validateEndpointSlice(o)...)
	case *networkingv1.Ingress:
		return append(validateMeta(o, true, apivalidation.NameIsDNSSubdomain), validateIngress(o)...)
	case *corev1.PersistentVolume:
		return append(validateMeta(o, false, apivalidation.NameIsDNSSubdomain), validatePersistentVolume(o)...)
	case *corev1.PersistentVolumeClaim:
		return append(validateMeta(o, true, apivalidation.NameIsDNSSubdomain), validatePersistentVolumeClaim(o)...)
	case *storagev1.StorageClass:
		return append(validateMeta(o, false, apivalidation.NameIsDNSSubdomain), validateStorageClass(o)...)
	}
	return field.ErrorList{field.InternalError(field.NewPath("kind"), fmt.Errorf("wake does not serve %T", obj))}
}

// validateMeta checks metadata: a name (or generateName) of the kind's form, a
// namespace that is a DNS label and only on namespaced kinds, labels,
// annotations, owner references and finalizers.
func validateMeta(obj metav1.Object, namespaced bool, nameFn apivalidation.ValidateNameFunc) field.ErrorList {
	p := field.NewPath("metadata")
	var errs field.ErrorList
	name, generateName := obj.GetName(), obj.GetGenerateName()
	if generateName != "" {
		errs = append(errs, invalidEach(p.Child("generateName"), generateName, nameFn(generateName, true))...)
	}
	switch {
	case name != "":
		errs = append(errs, invalidEach(p.Child("name"), name, nameFn(name, false))...)
	case generateName == "":
		errs = append(errs, field.Required(p.Child("name"), "name or generateName is required"))
	}
	if ns := obj.GetNamespace(); ns != "" {
		if !namespaced {
			errs = append(errs, field.Forbidden(p.Child("namespace"), "not allowed on this type: it is cluster-scoped"))
		} else {
			errs = append(errs, invalidEach(p.Child("namespace"), ns, apivalidation.ValidateNamespaceName(ns, false))...)
		}
	}
	errs = append(errs, metavalidation.ValidateLabels(obj.GetLabels(), p.Child("labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(obj.GetAnnotations(), p.Child("annotations"))...)
	errs = append(errs, apivalidation.ValidateOwnerReferences(obj.GetOwnerReferences(), p.Child("ownerReferences"))...)
	return append(errs, apivalidation.ValidateFinalizers(obj.GetFinalizers(), p.Child("finalizers"))...)
}

func validateNamespace(ns *corev1.Namespace) field.ErrorList {
	var errs field.ErrorList
	for i, f := range ns.Spec.Finalizers {
		errs = append(errs, apivalidation.ValidateFinalizerName(string(f), field.NewPath("spec", "finalizers").Index(i))...)
	}
	return errs
}

// invalidEach turns the messages of a k8s.io/apimachinery validation function into
// Invalid errors for value at p.
func invalidEach(p *field.Path, value any, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(p, value, msg))
	}
	return errs
}

// oneOf checks that value is one of allowed; empty is Required unless optional.
func oneOf[T ~string](p *field.Path, value T, optional bool, allowed ...T) field.ErrorList {
	switch {
	case value == "" && optional:
		return nil
	case value == "":
		return field.ErrorList{field.Required(p, "")}
	case !slices.Contains(allowed, value):
		return field.ErrorList{field.NotSupported(p, value, allowed)}
	}
	return nil
}

func nonNegative(p *field.Path, value int64) field.ErrorList {
	return apivalidation.ValidateNonnegativeField(value, p)
}

func atLeastOne(p *field.Path, value int32) field.ErrorList {
	if value < 1 {
		return field.ErrorList{field.Invalid(p, value, "must be greater than or equal to 1")}
	}
	return nil
}

func validatePortNumber(p *field.Path, port int32) field.ErrorList {
	return invalidEach(p, port, validation.IsValidPortNum(int(port)))
}

// validatePortNumOrName checks a port given as a number (1-65535) or as the
// IANA_SVC_NAME of a named container port.
func validatePortNumOrName(p *field.Path, port intstr.IntOrString) field.ErrorList {
	if port.Type == intstr.Int {
		return validatePortNumber(p, port.IntVal)
	}
	return invalidEach(p, port.StrVal, validation.IsValidPortName(port.StrVal))
}

func validateProtocol(p *field.Path, protocol corev1.Protocol) field.ErrorList {
	return oneOf(p, protocol, false, corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP)
}

func validateLabelSelector(p *field.Path, selector *metav1.LabelSelector) field.ErrorList {
	return metavalidation.ValidateLabelSelector(selector, metavalidation.LabelSelectorValidationOptions{}, p)
}
