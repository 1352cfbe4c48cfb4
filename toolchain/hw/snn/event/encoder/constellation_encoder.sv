// The constellation spike encoder in RTL: constellation_encoder.hpp cycle for cycle and word for
// word (docs/snn_hardware.md, "RTL kernels"). One I/Q sample per cycle in, one event word per
// kept sample out (the cell (QBIN[q], IBIN[i]) of an R x R plane; a word with STEP closes each
// time step of GROUP kept samples); TLAST closes the (possibly partial) step and the frame:
// after the frame's last sample, a STEP word if its last step is partial, then the FRAME word,
// BAD when the frame had not FRAME_LEN samples. Samples after FRAME_LEN without TLAST are
// dropped. BINARY drops repeats of a cell within a step (an R x R bitmap, cleared at once).
//
// Output word (spike_stream.hpp, one lane): bit 0 the event, [ADDR_BITS:1] the cell, then STEP,
// FRAME, BAD. Streams are valid/ready (AXI4-Stream); the output is a register, and s_tready
// follows m_tready combinationally (a register slice between kernels breaks that path).
module constellation_encoder #(
    parameter int IN_BITS = 8,
    parameter int R = 16,
    parameter int GROUP = 64,
    parameter int FRAME_LEN = 1024,
    parameter bit BINARY = 1'b0,
    localparam int CELL_BITS = R < 2 ? 1 : $clog2(R),
    localparam int CODES = 2 ** IN_BITS,
    // the binning tables: entry k (the two's complement code k) in bits [k*CELL_BITS +: CELL_BITS]
    parameter logic [CODES*CELL_BITS-1:0] IBIN = '0,
    parameter logic [CODES*CELL_BITS-1:0] QBIN = '0,
    localparam int ADDR_BITS = R * R < 2 ? 1 : $clog2(R * R),
    localparam int OUT_BITS = 1 + ADDR_BITS + 3
) (
    input  logic                   clk,
    input  logic                   rst,
    input  logic [  2*IN_BITS-1:0] s_tdata,   // I in [IN_BITS-1:0], Q above
    input  logic                   s_tlast,
    input  logic                   s_tvalid,
    output logic                   s_tready,
    output logic [   OUT_BITS-1:0] m_tdata,
    output logic                   m_tvalid,
    input  logic                   m_tready
);
  localparam int KB = $clog2(FRAME_LEN + 1);  // kept: 0..FRAME_LEN
  localparam int GB = GROUP < 2 ? 1 : $clog2(GROUP);  // in_step: 0..GROUP-1
  localparam logic [KB-1:0] FRAME_N = KB'(FRAME_LEN);
  localparam logic [GB-1:0] GROUP_LAST = GB'(GROUP - 1);

  typedef enum logic [1:0] {
    SAMPLES,
    TAIL_STEP,
    TAIL_FRAME
  } state_e;
  state_e state;

  logic [CELL_BITS-1:0] ibin_rom[CODES], qbin_rom[CODES];
  for (genvar k = 0; k < CODES; k++) begin : g_rom
    assign ibin_rom[k] = IBIN[k*CELL_BITS+:CELL_BITS];
    assign qbin_rom[k] = QBIN[k*CELL_BITS+:CELL_BITS];
  end

  logic [KB-1:0] kept;  // samples kept in the frame
  logic [GB-1:0] in_step;  // samples kept in the current step
  logic overrun;  // samples after FRAME_LEN without TLAST (dropped)
  logic [R*R-1:0] seen;  // BINARY: cells already sent in this step

  logic [ADDR_BITS-1:0] cell_id;
  logic keep, send, close, can_emit, take;
  logic [GB-1:0] in_step_next;

  assign cell_id = ADDR_BITS'(qbin_rom[s_tdata[2*IN_BITS-1:IN_BITS]]) * ADDR_BITS'(R)
              + ADDR_BITS'(ibin_rom[s_tdata[IN_BITS-1:0]]);
  assign keep = kept < FRAME_N;
  assign send = !BINARY || !seen[cell_id];
  assign close = in_step == GROUP_LAST;
  assign in_step_next = !keep ? in_step : (close ? '0 : in_step + 1'b1);
  assign can_emit = !m_tvalid || m_tready;
  assign s_tready = state == SAMPLES && can_emit;
  assign take = s_tvalid && s_tready;

  always_ff @(posedge clk) begin
    if (rst) begin
      state <= SAMPLES;
      kept <= '0;
      in_step <= '0;
      overrun <= 1'b0;
      seen <= '0;
      m_tvalid <= 1'b0;
      m_tdata <= '0;
    end else begin
      if (m_tready) m_tvalid <= 1'b0;
      unique case (state)
        SAMPLES:
        if (take) begin
          if (keep) begin
            kept <= kept + 1'b1;
            in_step <= in_step_next;
            if (close) seen <= '0;
            else if (BINARY) seen[cell_id] <= 1'b1;
            if (send || close) begin
              m_tdata  <= {1'b0, 1'b0, close, cell_id, send};
              m_tvalid <= 1'b1;
            end
          end else begin
            overrun <= 1'b1;
          end
          if (s_tlast) state <= in_step_next != '0 ? TAIL_STEP : TAIL_FRAME;
        end
        TAIL_STEP:
        if (can_emit) begin
          m_tdata <= {1'b0, 1'b0, 1'b1, {ADDR_BITS{1'b0}}, 1'b0};
          m_tvalid <= 1'b1;
          state <= TAIL_FRAME;
        end
        TAIL_FRAME:
        if (can_emit) begin
          m_tdata <= {overrun || kept != FRAME_N, 1'b1, 1'b0, {ADDR_BITS{1'b0}}, 1'b0};
          m_tvalid <= 1'b1;
          state <= SAMPLES;
          kept <= '0;
          in_step <= '0;
          overrun <= 1'b0;
          seen <= '0;
        end
        default: state <= SAMPLES;
      endcase
    end
  end
endmodule
