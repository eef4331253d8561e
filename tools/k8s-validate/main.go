// Command k8s-validate renders Kustomize overlays and validates what they produce, offline.
//
//	k8s-validate [-o DIR] OVERLAY_DIR...
//
// For each overlay directory it runs kustomize's own build (krusty, the code behind
// `kustomize build` and `kubectl apply -k`), then:
//
//   - decodes every resource of a core kind (apps/v1, v1, autoscaling/v2, policy/v1,
//     networking.k8s.io/v1, batch/v1) strictly into its typed struct from client-go's scheme:
//     an unknown or duplicated field, a wrong type or an unknown kind fails;
//   - checks resources of the custom kinds it knows (Strimzi) for apiVersion, kind, name and spec;
//   - checks the platform's invariants (see checkInvariants): every Deployment has probes,
//     requests and limits, runs as non-root with a read-only root filesystem, and so on.
//
// With -o DIR it writes each overlay's rendered YAML to DIR/<overlay name>.yaml.
// It needs no cluster and no network.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// coreAPIVersions are decoded strictly into client-go's typed structs.
var coreAPIVersions = map[string]bool{
	"v1":                   true,
	"apps/v1":              true,
	"autoscaling/v2":       true,
	"policy/v1":            true,
	"networking.k8s.io/v1": true,
	"batch/v1":             true,
}

// customKinds are the kinds of custom resources the manifests may use, by apiVersion: they have
// no schema here, so only their shape is checked.
var customKinds = map[string]map[string]bool{
	"kafka.strimzi.io/v1beta2": {"Kafka": true, "KafkaNodePool": true, "KafkaTopic": true},
}

// decoder fails on unknown and duplicated fields (strict), and on types that do not match.
var decoder = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// overlayResult is what one overlay produced: its rendered YAML and the problems found.
type overlayResult struct {
	yaml     []byte
	counts   map[string]int
	problems []string
}

func main() {
	out := flag.String("o", "", "write each overlay's rendered YAML to `DIR`/<overlay>.yaml")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: k8s-validate [-o DIR] OVERLAY_DIR...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	failed := false
	for _, dir := range flag.Args() {
		result, err := validateOverlay(dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "FAIL %s: %v\n", dir, err)
			failed = true
			continue
		}
		if *out != "" {
			path := filepath.Join(*out, filepath.Base(filepath.Clean(dir))+".yaml")
			if err := os.WriteFile(path, result.yaml, 0o644); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		if len(result.problems) > 0 {
			failed = true
			fmt.Fprintf(os.Stderr, "FAIL %s: %d problem(s)\n", dir, len(result.problems))
			for _, p := range result.problems {
				fmt.Fprintf(os.Stderr, "  - %s\n", p)
			}
			continue
		}
		fmt.Printf("ok   %s: %s\n", dir, summary(result.counts))
	}
	if failed {
		os.Exit(1)
	}
}

// validateOverlay builds one kustomization and checks every resource it renders.
func validateOverlay(dir string) (*overlayResult, error) {
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build: %w", err)
	}
	rendered, err := resources.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	result := &overlayResult{yaml: rendered, counts: map[string]int{}}
	var objects []runtime.Object
	for _, res := range resources.Resources() {
		apiVersion, kind, name := res.GetApiVersion(), res.GetKind(), res.GetName()
		id := fmt.Sprintf("%s %s/%s", apiVersion, kind, name)
		result.counts[kind]++
		data, err := res.AsYAML()
		if err != nil {
			result.problems = append(result.problems, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		switch {
		case coreAPIVersions[apiVersion]:
			obj, err := decodeStrict(data)
			if err != nil {
				result.problems = append(result.problems, fmt.Sprintf("%s: %v", id, err))
				continue
			}
			objects = append(objects, obj)
		case customKinds[apiVersion] != nil:
			if !customKinds[apiVersion][kind] {
				result.problems = append(result.problems, fmt.Sprintf("%s: unknown kind for %s", id, apiVersion))
				continue
			}
			if err := checkCustomShape(data); err != nil {
				result.problems = append(result.problems, fmt.Sprintf("%s: %v", id, err))
			}
		default:
			result.problems = append(result.problems, fmt.Sprintf("%s: apiVersion not validated here (add it to k8s-validate)", id))
		}
	}
	result.problems = append(result.problems, checkInvariants(objects)...)
	return result, nil
}

// decodeStrict decodes one YAML document into its typed struct, refusing unknown fields.
func decodeStrict(data []byte) (runtime.Object, error) {
	obj, _, err := decoder.Decode(data, nil, nil)
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// checkCustomShape checks a custom resource has the fields every custom resource needs.
func checkCustomShape(data []byte) error {
	var doc map[string]any
	if err := yaml.UnmarshalStrict(data, &doc); err != nil {
		return err
	}
	metadata, _ := doc["metadata"].(map[string]any)
	if name, _ := metadata["name"].(string); name == "" {
		return errors.New("metadata.name missing")
	}
	if spec, ok := doc["spec"].(map[string]any); !ok || len(spec) == 0 {
		return errors.New("spec missing or empty")
	}
	return nil
}

// checkInvariants are the rules every workload of the platform follows.
func checkInvariants(objects []runtime.Object) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	deployments := map[string]bool{}
	services := map[string]bool{}
	hpaTargets := map[string]bool{}
	pdbs := 0
	for _, obj := range objects {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			deployments[o.Name] = true
			for _, p := range checkPod("Deployment/"+o.Name, &o.Spec.Template.Spec, true) {
				add("%s", p)
			}
			if o.Spec.Selector == nil || len(o.Spec.Selector.MatchLabels) == 0 {
				add("Deployment/%s: no selector", o.Name)
			}
		case *appsv1.StatefulSet:
			for _, p := range checkPod("StatefulSet/"+o.Name, &o.Spec.Template.Spec, false) {
				add("%s", p)
			}
			if o.Spec.ServiceName == "" {
				add("StatefulSet/%s: no serviceName (headless Service)", o.Name)
			}
		case *batchv1.Job:
			for _, p := range checkPod("Job/"+o.Name, &o.Spec.Template.Spec, false) {
				add("%s", p)
			}
		case *corev1.Service:
			services[o.Name] = true
		case *autoscalingv2.HorizontalPodAutoscaler:
			if o.Spec.ScaleTargetRef.Kind != "Deployment" {
				add("HorizontalPodAutoscaler/%s: targets a %s", o.Name, o.Spec.ScaleTargetRef.Kind)
			}
			hpaTargets[o.Spec.ScaleTargetRef.Name] = true
			if o.Spec.MinReplicas == nil || *o.Spec.MinReplicas < 1 || *o.Spec.MinReplicas > o.Spec.MaxReplicas {
				add("HorizontalPodAutoscaler/%s: minReplicas must be set, >= 1 and <= maxReplicas", o.Name)
			}
		case *policyv1.PodDisruptionBudget:
			pdbs++
		case *networkingv1.NetworkPolicy:
		}
	}
	for target := range hpaTargets {
		if !deployments[target] {
			add("HorizontalPodAutoscaler targets Deployment/%s, which is not rendered", target)
		}
	}
	if pdbs == 0 {
		add("no PodDisruptionBudget rendered")
	}
	return problems
}

// checkPod: probes, requests and limits on every container; non-root, no privilege escalation,
// no capabilities, RuntimeDefault seccomp and a read-only root filesystem. Jobs and databases
// need no HTTP probes (probes=false), everything else applies to them too.
func checkPod(id string, pod *corev1.PodSpec, probes bool) []string {
	var problems []string
	add := func(format string, args ...any) {
		problems = append(problems, id+": "+fmt.Sprintf(format, args...))
	}
	podSC := pod.SecurityContext
	if podSC == nil || podSC.RunAsNonRoot == nil || !*podSC.RunAsNonRoot {
		add("pod securityContext.runAsNonRoot must be true")
	}
	if podSC == nil || podSC.RunAsUser == nil || *podSC.RunAsUser == 0 {
		add("pod securityContext.runAsUser must be set and not 0")
	}
	if podSC == nil || podSC.SeccompProfile == nil || podSC.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		add("pod securityContext.seccompProfile must be RuntimeDefault")
	}
	containers := append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...)
	if len(pod.Containers) == 0 {
		add("no containers")
	}
	for _, c := range containers {
		cid := "container " + c.Name
		if probes {
			if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil {
				add("%s: no HTTP livenessProbe", cid)
			}
			if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil {
				add("%s: no HTTP readinessProbe", cid)
			}
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Requests[r]; !ok {
				add("%s: no %s request", cid, r)
			}
		}
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
			add("%s: no memory limit", cid)
		}
		if !pinned(c.Image) {
			add("%s: image %q must name a tag (not latest) or a digest", cid, c.Image)
		}
		sc := c.SecurityContext
		if sc == nil {
			add("%s: no securityContext", cid)
			continue
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			add("%s: readOnlyRootFilesystem must be true", cid)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			add("%s: allowPrivilegeEscalation must be false", cid)
		}
		if sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) > 0 {
			add("%s: capabilities must drop ALL and add none", cid)
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			add("%s: runs as root", cid)
		}
	}
	return problems
}

// pinned: the image names a tag other than latest, or a digest.
func pinned(image string) bool {
	if strings.Contains(image, "@") {
		return true
	}
	last := image[strings.LastIndex(image, "/")+1:]
	i := strings.LastIndex(last, ":")
	return i >= 0 && i < len(last)-1 && last[i+1:] != "latest"
}

// summary: "1 ConfigMap, 5 Deployment, ...", by kind.
func summary(counts map[string]int) string {
	kinds := make([]string, 0, len(counts))
	total := 0
	for kind, n := range counts {
		kinds = append(kinds, kind)
		total += n
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, kind := range kinds {
		parts[i] = fmt.Sprintf("%d %s", counts[kind], kind)
	}
	return fmt.Sprintf("%d resources (%s)", total, strings.Join(parts, ", "))
}
