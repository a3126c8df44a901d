/** etcdctl's `-w table` (printer_table.go): only member list, endpoint results and db status. */
import { renderTable } from './table.js';
import {
  dbStatusTable, endpointHashKVTable, endpointHealthTable, endpointStatusTable, memberListTable, unsupportedPrinter,
  type Printer,
} from './printer.js';

export function tablePrinter(): Printer {
  return {
    ...unsupportedPrinter('table'),
    kind: 'table',
    memberList: (s, r) => s.print(renderTable(...memberListTable(r))),
    endpointHealth: (s, hs) => s.print(renderTable(...endpointHealthTable(hs))),
    endpointStatus: (s, list) => s.print(renderTable(...endpointStatusTable(list))),
    endpointHashKV: (s, list) => s.print(renderTable(...endpointHashKVTable(list))),
    dbStatus: (s, d) => s.print(renderTable(...dbStatusTable(d))),
  };
}
