/** printer.go's NewPrinter: the printer for `-w <format>`, or etcdctl's error for an unknown one. */
import { CtlExitError, ExitBadFeature } from './exit.js';
import { fieldsPrinter } from './printer_fields.js';
import { jsonPrinter } from './printer_json.js';
import { protobufPrinter } from './printer_protobuf.js';
import { simplePrinter } from './printer_simple.js';
import { tablePrinter } from './printer_table.js';
import type { Printer } from './printer.js';

export function newPrinter(format: string, isHex: boolean, valueOnly = false): Printer {
  switch (format) {
    case 'simple': return simplePrinter(isHex, valueOnly);
    case 'json': return jsonPrinter();
    case 'fields': return fieldsPrinter();
    case 'table': return tablePrinter();
    case 'protobuf': return protobufPrinter();
  }
  throw new CtlExitError(ExitBadFeature, 'unsupported output format');
}
