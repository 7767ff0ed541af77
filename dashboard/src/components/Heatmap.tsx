// Attention over the 60-bar window: one cell per bar, darker where the model looked harder.
import { heatLevels } from "../format";

interface Props {
  weights: number[];
  labels: string[]; // one per bar, e.g. its date
}

export function Heatmap({ weights, labels }: Props) {
  const levels = heatLevels(weights);
  return (
    <div className="heatmap" data-testid="attention-heatmap">
      {levels.map((level, index) => (
        <div
          key={index}
          className="heatcell"
          data-level={level.toFixed(3)}
          title={`${labels[index] ?? index}: ${weights[index].toFixed(4)}`}
          style={{ background: `rgba(200, 60, 20, ${(0.05 + 0.95 * level).toFixed(3)})` }}
        />
      ))}
      <div className="heatlegend">
        <span>{labels[0]}</span>
        <span>oldest → newest bar</span>
        <span>{labels[labels.length - 1]}</span>
      </div>
    </div>
  );
}
