export * from "./oids.js";
export * from "./names.js";
export * from "./profiles.js";
export * from "./engine.js";
export * from "./revocation.js";
export * from "./renewal.js";
