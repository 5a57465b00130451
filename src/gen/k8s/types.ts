/**
 * The subset of Kubernetes object types the generator writes (core/v1 Pod and ConfigMap, batch/v1 Job), with the
 * API's field names verbatim. Kept small on purpose: the tests check every generated object against the official
 * schemas (kubernetes-types 1.29/1.30 and kubernetes-models for 1.33), which is where the full types live.
 */

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef: { fieldPath: string } };
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
  readOnly?: boolean;
}

export interface Probe {
  exec: { command: string[] };
  periodSeconds: number;
  timeoutSeconds: number;
  failureThreshold: number;
  initialDelaySeconds?: number;
}

export interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  procMount?: 'Default' | 'Unmasked';
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type: 'RuntimeDefault' | 'Unconfined' | 'Localhost'; localhostProfile?: string };
  appArmorProfile?: { type: 'RuntimeDefault' | 'Unconfined' | 'Localhost'; localhostProfile?: string };
}

export interface ResourceRequirements {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

export interface Container {
  name: string;
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  volumeMounts?: VolumeMount[];
  resources?: ResourceRequirements;
  securityContext?: SecurityContext;
  startupProbe?: Probe;
  /** Jenkins' kubernetes agent keeps the job container alive with `cat` on a TTY */
  tty?: boolean;
  /** only on init containers: "Always" makes a native sidecar (1.29+) */
  restartPolicy?: 'Always';
}

export interface Volume {
  name: string;
  emptyDir?: { medium?: 'Memory'; sizeLimit?: string };
  hostPath?: { path: string; type: 'Socket' | 'Directory' | 'CharDevice' | 'File' };
  configMap?: { name: string; defaultMode?: number; items?: { key: string; path: string }[] };
}

export interface PodSpec {
  restartPolicy: 'Never' | 'OnFailure';
  activeDeadlineSeconds?: number;
  terminationGracePeriodSeconds?: number;
  automountServiceAccountToken?: boolean;
  enableServiceLinks?: boolean;
  runtimeClassName?: string;
  hostUsers?: boolean;
  securityContext?: { fsGroup?: number; seccompProfile?: { type: 'RuntimeDefault' | 'Unconfined' } };
  initContainers?: Container[];
  containers: Container[];
  volumes?: Volume[];
}

export interface Pod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: ObjectMeta;
  spec: PodSpec;
}

export interface Job {
  apiVersion: 'batch/v1';
  kind: 'Job';
  metadata: ObjectMeta;
  spec: {
    backoffLimit: number;
    activeDeadlineSeconds?: number;
    ttlSecondsAfterFinished?: number;
    template: { metadata: Omit<ObjectMeta, 'name' | 'namespace'>; spec: PodSpec };
  };
}

export interface ConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: ObjectMeta;
  data: Record<string, string>;
}

export type K8sObject = Pod | Job | ConfigMap;
