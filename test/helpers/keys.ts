/**
 * Key pairs for tests. Node 20 can deadlock when a KeyObject returned by generateKeyPairSync is
 * queried while the garbage collector frees the generation job that shares its lock (seen as a hung
 * test); the library's newKeyPair generates DER and imports it afresh, which shares no such lock.
 */
export { newKeyPair } from "../../ca/x509/keys.js";
