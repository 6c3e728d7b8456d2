/**
 * The single TensorFlow.js namespace that the whole library uses.
 *
 * Every module imports `tf` from here, so that users and the library share one engine instance
 * (one backend registry, one memory tracker).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

// The cpu backend greets Node-like hosts with advice to install tfjs-node on its first write; the
// library picks backends itself (engine/backend.ts), so the greeting is turned off.
// `setBackend("cpu")` completes synchronously (the cpu backend has no async initialisation).
void tf.setBackend("cpu");
const cpu = tf.findBackend("cpu") as { firstUse?: boolean } | null;
if (cpu) cpu.firstUse = false;

export { tf };
