/** Global options, shared by every command, and printing (human or --json). */
import type { Command } from "commander";
import { Home, type HomeOptions } from "../ca/index.js";
import { passphraseSource } from "./passphrase.js";

export interface GlobalOptions {
  readonly home: string;
  readonly json: boolean;
  readonly operator?: string;
  readonly station?: string;
  readonly passphraseFile?: string;
}

export function globals(command: Command): GlobalOptions {
  const o = command.optsWithGlobals() as Record<string, unknown>;
  return {
    home: (o.home as string | undefined) ?? process.env.TRUSTLINE_HOME ?? "./pki",
    json: o.json === true,
    ...(o.operator ?? process.env.TRUSTLINE_OPERATOR ? { operator: (o.operator as string | undefined) ?? process.env.TRUSTLINE_OPERATOR! } : {}),
    ...(o.station ?? process.env.TRUSTLINE_STATION ? { station: (o.station as string | undefined) ?? process.env.TRUSTLINE_STATION! } : {}),
    ...(o.passphraseFile ? { passphraseFile: o.passphraseFile as string } : {}),
  };
}

/**
 * Home options for a command. `keys: true` when the command opens a CA key (may prompt on a
 * terminal); otherwise the passphrase is used only if given, to sign the audit head.
 */
export function homeOptions(g: GlobalOptions, keys: boolean, confirm = false): HomeOptions {
  return {
    home: g.home,
    passphrase: passphraseSource({ ...(g.passphraseFile ? { passphraseFile: g.passphraseFile } : {}), interactive: keys, confirm }),
    ...(g.operator ? { operator: g.operator } : {}),
    ...(g.station ? { station: g.station } : {}),
  };
}

export function openHome(command: Command, keys: boolean): Promise<Home> {
  return Home.open(homeOptions(globals(command), keys));
}

/** Print the result: JSON (one document) with --json, else the human text. */
export function emit(command: Command, json: unknown, human: () => string): void {
  if (globals(command).json) process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  else {
    const text = human();
    if (text.length > 0) process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }
}

/** Progress and notes for people: stderr, never in the way of --json or piped PEM. */
export function note(command: Command, text: string): void {
  if (!globals(command).json) process.stderr.write(`${text}\n`);
}

export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;
}
