import { execFileSync } from "node:child_process";

/** The local stack's kubectl as cluster admin (for what a test sets up or
 * does behind the portal's back, never for what a person does). */
export function kubectl(...args: string[]): string {
  const bin = process.env.STACK_BIN;
  const kubeconfig = process.env.STACK_ADMIN_KUBECONFIG;
  if (!bin || !kubeconfig) throw new Error("STACK_BIN and STACK_ADMIN_KUBECONFIG come from .stack/stack.env");
  return execFileSync(bin, ["kubectl", `--kubeconfig=${kubeconfig}`, ...args], { encoding: "utf8" });
}
