/**
 * The one place @peculiar/x509 is imported: it needs the reflect-metadata polyfill loaded first
 * (its dependency injection container, tsyringe, checks for it at import time).
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

export { x509 };
