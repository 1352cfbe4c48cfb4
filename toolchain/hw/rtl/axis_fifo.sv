// A synchronous AXI4-Stream FIFO of DEPTH words (a power of two >= 2) between two kernels: the
// depths come from the project's FIFO model (toolchain/hw/snn/event/accel_fifo.py). Storage is
// a memory with an asynchronous read (LUTRAM at these depths), so a word written at an edge can
// leave in the next cycle (latency 1, as the FIFO model assumes); one word in and one out per
// cycle at full occupancy. `full` is for testbenches' probes (a full FIFO observed).
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
  logic [AB:0] wr, rd;  // one bit more than the address: full and empty apart

  assign full = (wr[AB] != rd[AB]) && (wr[AB-1:0] == rd[AB-1:0]);
  assign s_tready = !full;
  assign m_tvalid = wr != rd;
  assign m_tdata = mem[rd[AB-1:0]];

  always_ff @(posedge clk) begin
    if (rst) begin
      wr <= '0;
      rd <= '0;
    end else begin
      if (s_tvalid && s_tready) begin
        mem[wr[AB-1:0]] <= s_tdata;
        wr <= wr + 1'b1;
      end
      if (m_tvalid && m_tready) rd <= rd + 1'b1;
    end
  end
endmodule
