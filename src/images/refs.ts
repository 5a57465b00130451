/**
 * Which images a command uses: the official ones by default (docker:<ver>-cli, docker:<ver>-dind,
 * docker:<ver>-dind-rootless), the locally built ones with `--images local` / NESTLING_IMAGES=local, and each
 * overridable on its own (flag > NESTLING_CLI_IMAGE / NESTLING_DIND_IMAGE / NESTLING_DIND_ROOTLESS_IMAGE > the set).
 */
import { configError, usageError } from '../util/errors.js';
import type { Env } from '../util/env.js';
import { LocalImages } from './local.js';

export const IMAGE_SETS = ['official', 'local'] as const;
export type ImageSet = (typeof IMAGE_SETS)[number];

/** The docker major the official defaults name (docker:28-dind...). */
export const OFFICIAL_DOCKER_VERSION = '28';

export function officialImages(version: string = OFFICIAL_DOCKER_VERSION): ImageRefs {
  return { cli: `docker:${version}-cli`, dind: `docker:${version}-dind`, dindRootless: `docker:${version}-dind-rootless` };
}

export const localImages: Readonly<ImageRefs> = Object.freeze({ cli: LocalImages.cli, dind: LocalImages.dind, dindRootless: LocalImages.dindRootless });

export interface ImageRefs {
  /** the job image: a docker CLI */
  cli: string;
  /** the inner daemon of --mode dind */
  dind: string;
  /** the inner daemon of --mode rootless */
  dindRootless: string;
}

export type ImageSource = 'flag' | 'env' | ImageSet;

export interface ResolvedImages extends ImageRefs {
  set: ImageSet;
  /** where each ref came from, for --explain and --json */
  sources: Record<keyof ImageRefs, ImageSource>;
}

export interface ResolveImagesOptions {
  /** `--images`; else NESTLING_IMAGES; else official */
  images?: string | undefined;
  /** per-image flags (`--image`, `--daemon-image`) */
  overrides?: Partial<Record<keyof ImageRefs, string | undefined>> | undefined;
  env?: Env | undefined;
  /** the docker version the official refs name */
  dockerVersion?: string | undefined;
}

export const IMAGE_ENV: Record<keyof ImageRefs, string> = {
  cli: 'NESTLING_CLI_IMAGE',
  dind: 'NESTLING_DIND_IMAGE',
  dindRootless: 'NESTLING_DIND_ROOTLESS_IMAGE',
};

// docker's reference grammar (distribution/reference), without the length limits
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?';
const REFERENCE = new RegExp(`^(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`);

export function isImageReference(ref: string): boolean {
  if (ref.length > 255 || !REFERENCE.test(ref)) return false;
  // a first component is a registry only with a dot, a port or as localhost; else it is a (lower-case) path
  const first = ref.split('/')[0]!;
  const isDomain = ref.includes('/') && (/[.:]/.test(first) || first === 'localhost' || first.startsWith('['));
  return isDomain || !/[A-Z]/.test(first);
}

export function resolveImages(opts: ResolveImagesOptions = {}): ResolvedImages {
  const env = opts.env ?? {};
  const fromFlag = opts.images !== undefined && opts.images !== '';
  const setName = fromFlag ? opts.images! : env.NESTLING_IMAGES || 'official';
  if (!(IMAGE_SETS as readonly string[]).includes(setName)) {
    const make = fromFlag ? usageError : configError;
    throw make('E_CONFIG_IMAGES', `unknown image set ${JSON.stringify(setName)}${fromFlag ? '' : ' in NESTLING_IMAGES'}`, {
      hint: 'use official (docker:<ver>-* images from a registry) or local (built by `nestling images build`)',
    });
  }
  const set = setName as ImageSet;
  const base = set === 'local' ? localImages : officialImages(opts.dockerVersion);
  const out = { set, sources: {} } as ResolvedImages;
  for (const k of Object.keys(IMAGE_ENV) as (keyof ImageRefs)[]) {
    const flag = opts.overrides?.[k];
    const fromEnv = env[IMAGE_ENV[k]];
    let ref: string;
    let source: ImageSource;
    if (flag) [ref, source] = [flag, 'flag'];
    else if (fromEnv) [ref, source] = [fromEnv, 'env'];
    else [ref, source] = [base[k], set];
    if (!isImageReference(ref)) {
      const where = source === 'flag' ? 'the command line' : source === 'env' ? IMAGE_ENV[k] : 'the defaults';
      throw (source === 'flag' ? usageError : configError)('E_CONFIG_IMAGE_REF', `invalid image reference ${JSON.stringify(ref)} from ${where}`, {
        hint: 'an image reference looks like name[:tag][@sha256:digest], e.g. docker:28-dind or registry.local:5000/dind:1',
      });
    }
    out[k] = ref;
    out.sources[k] = source;
  }
  return out;
}
