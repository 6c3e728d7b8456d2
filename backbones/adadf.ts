/**
 * The Ada-DF dual-branch model: a frozen stem E, two copies of the ResNet branch (auxiliary and target),
 * a classifier `fc` and an attention head `attention` (Linear(F, 1)) per branch.
 *
 * Parameter names: the stem keeps torchvision's names (`conv1.weight`, `layer1.0.conv1.weight`); each
 * branch is prefixed (`aux.layer2.0.conv1.weight`, `target.fc.weight`, `target.attention.bias`).
 *
 * On `face-resnet29` (dlib's pretrained face-recognition ResNet-29, `face_resnet29.ts`) the stem is
 * `conv32_down`, the max pool and the 32-channel stage with the pretrained weights (`conv32_down.conv.weight`,
 * `conv32_1.bn2.running_var`, ...); each branch is a copy of the pretrained 64-, 128- and 256-channel
 * stages plus global average pooling (`aux.conv64_down.conv1.weight`, `target.conv256_down_out.bn2.bias`),
 * with a new classifier `fc` (256 -> C) and attention head `attention` (256 -> 1).
 *
 * On every backbone both branches and both classifiers start identical, as when the reference deep-copies
 * branch 1 with its new classifier into branch 2; the two attention heads are initialised independently,
 * as the reference's `alpha_1` and `alpha_2`.
 *
 * With `branches: 1` the model is the plain single-branch baseline: the stem, one branch (`target.`) and
 * its classifier `target.fc`, with no auxiliary branch and no attention head.
 *
 * @module
 */
import { type Tensor1D, type Tensor2D, type Tensor4D, tf, type Variable } from "../engine/tf.ts";
import { Random } from "../engine/random.ts";
import { type ForwardMode, Initializer, linear, type ParameterStore } from "./layers.ts";
import {
  type BackboneName,
  type BackboneSpec,
  backboneSpec,
  branchForward,
  featureSize,
  initBranch,
  initStem,
  stemForward,
} from "./resnet.ts";
import {
  addFaceResNet29Parameters,
  faceResNet29BranchForward,
  faceResNet29StemForward,
  loadFaceResNet29Weights,
} from "./face_resnet29.ts";

/**
 * The two branches' name prefixes.
 *
 * @example List the classifier weights of both branches
 * ```ts
 * import assert from "node:assert/strict";
 * import { BRANCHES } from "./adadf.ts";
 * const names = BRANCHES.map((b) => `${b}.fc.weight`);
 * assert.equal(names.join(), "aux.fc.weight,target.fc.weight");
 * ```
 */
export const BRANCHES = ["aux", "target"] as const;

/** A branch of the dual model. */
export type BranchName = typeof BRANCHES[number];

/**
 * How many branches a model has: 2 for Ada-DF's auxiliary and target branches, 1 for the plain
 * single-branch baseline (the target branch alone, no attention head).
 */
export type BranchCount = 1 | 2;

/** Raw outputs of the two branches, before any attention scaling. */
export interface AdaDfOutputs {
  /** Auxiliary branch `fc` output [B, C]. */
  auxLogits: Tensor2D;
  /** Target branch `fc` output [B, C]. */
  targetLogits: Tensor2D;
  /** Auxiliary attention head output before the sigmoid [B]. */
  scores1: Tensor1D;
  /** Target attention head output before the sigmoid [B]. */
  scores2: Tensor1D;
}

/** Options of {@linkcode AdaDfModel}. */
export interface AdaDfModelOptions {
  /**
   * Number of classes.
   * @default {7}
   */
  numClasses?: number;
  /**
   * Initialisation seed.
   * @default {0}
   */
  seed?: number;
  /**
   * Whether the stem's parameters are frozen (no gradient), as in the paper.
   * @default {true}
   */
  freezeStem?: boolean;
  /**
   * 2: the dual-branch Ada-DF model; 1: the plain single-branch baseline (stem, the `target` branch
   * and its classifier, no auxiliary branch, no attention head).
   * @default {2}
   */
  branches?: BranchCount;
  /**
   * Whether the seeded random initialisation runs. `false` makes the same parameters (names, shapes,
   * trainability) with zeros where it would draw (the face network still copies its pretrained
   * weights), for a model whose every tensor is loaded next, as the run pipeline's `loadRun` and a
   * resumed run load a checkpoint: the draws are most of a ResNet's construction time.
   * @default {true}
   */
  initialize?: boolean;
}

/**
 * The Ada-DF model as a named parameter map plus pure forward functions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdaDfModel } from "./adadf.ts";
 * import { tf } from "../engine/tf.ts";
 * const model = new AdaDfModel("tiny", { numClasses: 7 });
 * const out = model.forward(tf.zeros([2, 32, 32, 3]), { training: false });
 * assert.equal(out.targetLogits.shape[1], 7);
 * ```
 */
export class AdaDfModel implements ParameterStore {
  /** Learnable parameters by name. */
  readonly params: Map<string, Variable> = new Map();
  /** BatchNorm running statistics by name. */
  readonly buffers: Map<string, Variable> = new Map();
  /** The backbone's shape (and its input normalisation). */
  readonly spec: BackboneSpec;
  /** Number of classes. */
  readonly numClasses: number;
  /** Whether the stem is frozen. */
  readonly freezeStem: boolean;
  /** The branches the model has: `["aux", "target"]`, or `["target"]` for the single-branch baseline. */
  readonly branchNames: readonly BranchName[];

  /**
   * Builds and initialises the model: a ResNet with torchvision's initialisation, seeded; `face-resnet29`
   * with its pretrained stem and branches (read from the installed package) and seeded new heads.
   */
  constructor(backbone: BackboneName, options: AdaDfModelOptions = {}) {
    this.spec = backboneSpec(backbone);
    this.numClasses = options.numClasses ?? 7;
    this.freezeStem = options.freezeStem ?? true;
    const branches = options.branches ?? 2;
    if (branches !== 1 && branches !== 2) {
      throw new RangeError(`AdaDfModel: branches must be 1 or 2, got ${JSON.stringify(branches)}`);
    }
    this.branchNames = branches === 2 ? BRANCHES : ["target"];
    const rng = options.initialize === false ? null : new Random(options.seed ?? 0);
    const features = featureSize(this.spec);
    const spec = this.spec;
    const weights = spec.family === "resnet" ? undefined : loadFaceResNet29Weights();
    if (spec.family === "resnet") initStem(new Initializer(this, rng, !this.freezeStem), spec);
    else addFaceResNet29Parameters(this, { part: "stem", weights, trainable: !this.freezeStem });
    const init = new Initializer(this, rng);
    for (const branch of this.branchNames) {
      if (spec.family === "resnet") initBranch(init, spec, `${branch}.`);
      else addFaceResNet29Parameters(this, { part: "branch", weights, prefix: `${branch}.` });
      init.linear(`${branch}.fc`, features, this.numClasses);
      if (branches === 2) init.linear(`${branch}.attention`, features, 1);
    }
    if (branches === 2) {
      // The target branch is a deep copy of the auxiliary one, its classifier included (the reference's
      // copy.deepcopy of branch 1); the two attention heads stay independent.
      for (const [name, v] of this.params) {
        if (name.startsWith("aux.") && !name.startsWith("aux.attention.")) {
          this.params.get(`target.${name.slice(4)}`)!.assign(v);
        }
      }
    }
  }

  /** The stem E. In the paper it is frozen but runs in training mode (its BatchNorm statistics move). */
  stem(x: Tensor4D, mode: ForwardMode): Tensor4D {
    return this.spec.family === "resnet"
      ? stemForward(this, this.spec, x, mode)
      : faceResNet29StemForward(this, x, mode);
  }

  /**
   * One branch's raw outputs from stem features: `{ logits [B, C], scores [B] }`. A single-branch model
   * has no attention head: its `scores` are zeros, and it is evaluated without attention (as `none`).
   */
  branch(
    branch: BranchName,
    features: Tensor4D,
    mode: ForwardMode,
  ): { logits: Tensor2D; scores: Tensor1D } {
    if (!this.branchNames.includes(branch)) {
      throw new Error(`AdaDfModel: the single-branch model has no '${branch}' branch`);
    }
    const h = this.spec.family === "resnet"
      ? branchForward(this, this.spec, features, mode, `${branch}.`)
      : faceResNet29BranchForward(this, features, mode, `${branch}.`);
    const logits = linear(this, `${branch}.fc`, h);
    const scores = this.branchNames.length === 2
      ? tf.reshape(linear(this, `${branch}.attention`, h), [-1]) as Tensor1D
      : tf.zeros([h.shape[0]]) as Tensor1D;
    return { logits, scores };
  }

  /**
   * Both branches' raw outputs from stem features. A single-branch model reports its one branch as both
   * (the same logits tensor as `auxLogits` and `targetLogits`, zero scores).
   */
  branches(features: Tensor4D, mode: ForwardMode): AdaDfOutputs {
    if (this.branchNames.length === 1) {
      const { logits, scores } = this.branch("target", features, mode);
      return { auxLogits: logits, targetLogits: logits, scores1: scores, scores2: scores };
    }
    const aux = this.branch("aux", features, mode);
    const target = this.branch("target", features, mode);
    return {
      auxLogits: aux.logits,
      targetLogits: target.logits,
      scores1: aux.scores,
      scores2: target.scores,
    };
  }

  /** The whole model's raw outputs from images. */
  forward(x: Tensor4D, mode: ForwardMode): AdaDfOutputs {
    return this.branches(this.stem(x, mode), mode);
  }

  /** The variables the optimiser updates (the stem's are left out when it is frozen). */
  trainableVariables(): Variable[] {
    return [...this.params.values()].filter((v) => v.trainable);
  }

  /** Frees every tensor of the model. */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const v of this.buffers.values()) v.dispose();
    this.params.clear();
    this.buffers.clear();
  }
}
