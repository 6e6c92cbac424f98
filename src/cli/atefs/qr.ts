// A QR code as text for a terminal: two modules per character cell with half blocks, drawn
// light-on-dark (the light modules are the printed blocks), which phone cameras read from the
// usual dark terminal; a quiet zone of 2 modules around it.
import qrcode from 'qrcode-generator';

const QUIET = 2;

export function qrText(data: string): string {
  const qr = qrcode(0, 'M');
  qr.addData(data, 'Byte');
  qr.make();
  const n = qr.getModuleCount();
  const light = (r: number, c: number): boolean => r < 0 || c < 0 || r >= n || c >= n || !qr.isDark(r, c);
  const lines: string[] = [];
  for (let r = -QUIET; r < n + QUIET; r += 2) {
    let line = '';
    for (let c = -QUIET; c < n + QUIET; c++) {
      const top = light(r, c);
      const bottom = r + 1 < n + QUIET ? light(r + 1, c) : false;
      line += top && bottom ? '█' : top ? '▀' : bottom ? '▄' : ' ';
    }
    lines.push(line);
  }
  return lines.join('\n');
}
