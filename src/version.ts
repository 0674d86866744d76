/**
 * What this build is: the one place the version is written (package.json must agree, a
 * test checks it), with the commit and build date a release binary embeds.
 *
 * `bun build --compile` fills in the last two with
 * `--define DS_BUILD_COMMIT='"<sha>"' --define DS_BUILD_DATE='"<UTC date>"'` (see the
 * Makefile); run from sources they are unknown.
 * @module
 */

// Replaced by the bundler's --define; never declared at run time, hence the typeof checks.
declare const DS_BUILD_COMMIT: string | undefined;
declare const DS_BUILD_DATE: string | undefined;

/** The release version, as in package.json. */
export const VERSION = "0.1.0";

/** The short git commit the binary was built from. @default "unknown" */
export const COMMIT: string = typeof DS_BUILD_COMMIT === "string" ? DS_BUILD_COMMIT : "unknown";

/** When the binary was built, ISO-8601 UTC. @default "dev" (run from sources) */
export const BUILD_DATE: string = typeof DS_BUILD_DATE === "string" ? DS_BUILD_DATE : "dev";
