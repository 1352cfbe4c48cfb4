// A synchronous AXI4-Stream FIFO of DEPTH words (a power of two >= 2) between two kernels: the
// depths come from the project's FIFO model (toolchain/hw/snn/event/accel_fifo.py).
// REGISTERED OUTPUTS: m_tdata, m_tvalid and s_tready are flip-flops, so neither kernel's logic
// runs through the FIFO into the other's (docs/snn_hardware.md, "Logic depth"). At its ports it
// behaves as the plain FIFO the model assumes, cycle for cycle: a word written at an edge can
// leave in the next cycle (latency 1: into an empty FIFO it goes straight to the output
// register), one word in and one out per cycle, DEPTH words in all (the output register holds
// the oldest, the memory the rest), s_tready low exactly when DEPTH words are held.
// Storage is a memory of DEPTH words (LUTRAM at small depths, block RAM deeper: the read
// pointer becomes the RAM's address register). `full` is for testbenches' probes.
module axis_fifo #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 2,
    localparam int AB = DEPTH < 2 ? 1 : $clog2(DEPTH)
) (
    input  logic             clk,
    input  logic             rst,
    input  logic [WIDTH-1:0] s_tdata,
    input  logic             s_tvalid,
    output logic             s_tready,
    output logic [WIDTH-1:0] m_tdata,
    output logic             m_tvalid,
    input  logic             m_tready,
    output logic             full
);
  logic [WIDTH-1:0] mem[DEPTH];
  logic [AB-1:0] wr, rd;
  logic [AB:0] n, mem_n;  // words held in all, and in the memory (the output register apart)
  logic mem_empty, mem_one, near_full;  // registers: mem_n == 0, mem_n == 1, n == DEPTH - 1
  logic push, pop, load, from_mem, to_mem;

  assign s_tready = !full;
  assign push = s_tvalid && !full;
  assign pop = m_tvalid && m_tready;
  assign load = !m_tvalid || m_tready;  // the output register takes the next word, if any
  assign from_mem = load && !mem_empty;
  assign to_mem = push && !(load && mem_empty);  // else the word goes straight to the output

  // the data in a block of its own, without reset (block RAM at depth)
  always_ff @(posedge clk) begin
    if (to_mem) mem[wr] <= s_tdata;
    if (from_mem) m_tdata <= mem[rd];
    else if (load && push) m_tdata <= s_tdata;
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      wr <= '0;
      rd <= '0;
      n <= '0;
      mem_n <= '0;
      full <= 1'b0;
      near_full <= DEPTH == 1;
      mem_empty <= 1'b1;
      mem_one <= 1'b0;
      m_tvalid <= 1'b0;
    end else begin
      if (to_mem) wr <= wr + 1'b1;
      if (from_mem) rd <= rd + 1'b1;
      if (load) m_tvalid <= from_mem || push;
      // the flags from the counts as they stand and what moves: no compare after the handshakes
      if (push && !pop) begin
        n <= n + 1'b1;
        full <= near_full;
        near_full <= n == (AB + 1)'(DEPTH - 2);
      end else if (pop && !push) begin
        n <= n - 1'b1;
        full <= 1'b0;
        near_full <= full;
      end
      if (to_mem && !from_mem) begin
        mem_n <= mem_n + 1'b1;
        mem_empty <= 1'b0;
        mem_one <= mem_empty;
      end else if (from_mem && !to_mem) begin
        mem_n <= mem_n - 1'b1;
        mem_empty <= mem_one;
        mem_one <= mem_n == (AB + 1)'(2);
      end
    end
  end
endmodule
