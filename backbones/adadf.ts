/**
 * The Ada-DF dual-branch model: a frozen stem E, two copies of the ResNet branch (auxiliary and target),
 * a classifier `fc` and an attention head `attention` (Linear(F, 1)) per branch.
 *
 * Parameter names: the stem keeps torchvision's names (`conv1.weight`, `layer1.0.conv1.weight`); each
 * branch is prefixed (`aux.layer2.0.conv1.weight`, `target.fc.weight`, `target.attention.bias`).
 *
 * @module
 */
import { type Tensor1D, type Tensor2D, type Tensor4D, tf, type Variable } from "../engine/tf.ts";
import { Random } from "../engine/random.ts";
import { type ForwardMode, Initializer, linear, type ParameterStore } from "./layers.ts";
import {
  type BackboneName,
  branchForward,
  featureSize,
  initBranch,
  initStem,
  type ResNetSpec,
  resnetSpec,
  stemForward,
} from "./resnet.ts";

/**
 * The two branches' name prefixes.
 *
 * @example List the classifier weights of both branches
 * ```ts
 * import { BRANCHES } from "./adadf.ts";
 * const names = BRANCHES.map((b) => `${b}.fc.weight`);
 * console.assert(names.join() === "aux.fc.weight,target.fc.weight");
 * ```
 */
export const BRANCHES = ["aux", "target"] as const;

/**
 * A branch of the dual model.
 *
 * @example Run one branch on stem features
 * ```ts
 * import { AdaDfModel, type BranchName } from "./adadf.ts";
 * import { tf } from "../engine/tf.ts";
 * const model = new AdaDfModel("tiny", { numClasses: 7 });
 * const which: BranchName = "target";
 * const features = model.stem(tf.zeros([1, 32, 32, 3]), { training: false });
 * const { logits } = model.branch(which, features, { training: false });
 * console.assert(logits.shape.join("x") === "1x7");
 * model.dispose();
 * ```
 */
export type BranchName = typeof BRANCHES[number];

/**
 * Raw outputs of the two branches, before any attention scaling.
 *
 * @example Read both branches' outputs
 * ```ts
 * import { AdaDfModel, type AdaDfOutputs } from "./adadf.ts";
 * import { tf } from "../engine/tf.ts";
 * const model = new AdaDfModel("tiny", { numClasses: 7 });
 * const out: AdaDfOutputs = model.forward(tf.zeros([2, 32, 32, 3]), { training: false });
 * console.assert(out.auxLogits.shape.join("x") === "2x7");
 * console.assert(out.scores2.shape.join("x") === "2");
 * model.dispose();
 * ```
 */
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

/**
 * Options of {@linkcode AdaDfModel}.
 *
 * @example Build an 8-class model with a trainable stem
 * ```ts
 * import { AdaDfModel, type AdaDfModelOptions } from "./adadf.ts";
 * const options: AdaDfModelOptions = { numClasses: 8, seed: 1, freezeStem: false };
 * const model = new AdaDfModel("tiny", options);
 * console.assert(model.numClasses === 8);
 * console.assert(model.trainableVariables().length === model.params.size);
 * model.dispose();
 * ```
 */
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
}

/**
 * The Ada-DF model as a named parameter map plus pure forward functions.
 *
 * @example
 * ```ts
 * import { AdaDfModel } from "./adadf.ts";
 * import { tf } from "../engine/tf.ts";
 * const model = new AdaDfModel("tiny", { numClasses: 7 });
 * const out = model.forward(tf.zeros([2, 32, 32, 3]), { training: false });
 * console.assert(out.targetLogits.shape[1] === 7);
 * ```
 */
export class AdaDfModel implements ParameterStore {
  /** Learnable parameters by name. */
  readonly params: Map<string, Variable> = new Map();
  /** BatchNorm running statistics by name. */
  readonly buffers: Map<string, Variable> = new Map();
  /** The backbone's shape. */
  readonly spec: ResNetSpec;
  /** Number of classes. */
  readonly numClasses: number;
  /** Whether the stem is frozen. */
  readonly freezeStem: boolean;

  /** Builds and initialises the model (torchvision's initialisation, seeded). */
  constructor(backbone: BackboneName, options: AdaDfModelOptions = {}) {
    this.spec = resnetSpec(backbone);
    this.numClasses = options.numClasses ?? 7;
    this.freezeStem = options.freezeStem ?? true;
    const rng = new Random(options.seed ?? 0);
    initStem(new Initializer(this, rng, !this.freezeStem), this.spec);
    const init = new Initializer(this, rng);
    const features = featureSize(this.spec);
    for (const branch of BRANCHES) {
      initBranch(init, this.spec, `${branch}.`);
      init.linear(`${branch}.fc`, features, this.numClasses);
      init.linear(`${branch}.attention`, features, 1);
    }
    // Both branches start from the same weights, as when both copy one pretrained backbone.
    for (const [name, v] of this.params) {
      if (name.startsWith("aux.layer")) this.params.get(`target.${name.slice(4)}`)!.assign(v);
    }
  }

  /** The stem E. In the paper it is frozen but runs in training mode (its BatchNorm statistics move). */
  stem(x: Tensor4D, mode: ForwardMode): Tensor4D {
    return stemForward(this, this.spec, x, mode);
  }

  /** One branch's raw outputs from stem features: `{ logits [B, C], scores [B] }`. */
  branch(
    branch: BranchName,
    features: Tensor4D,
    mode: ForwardMode,
  ): { logits: Tensor2D; scores: Tensor1D } {
    const h = branchForward(this, this.spec, features, mode, `${branch}.`);
    const logits = linear(this, `${branch}.fc`, h);
    const scores = tf.reshape(linear(this, `${branch}.attention`, h), [-1]) as Tensor1D;
    return { logits, scores };
  }

  /** Both branches' raw outputs from stem features. */
  branches(features: Tensor4D, mode: ForwardMode): AdaDfOutputs {
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
