import type { ContentBlockView, MessageView } from '../api/types.ts';
import { truncate } from './format.ts';

/** How much of one block is shown before the rest is folded away. */
const previewChars = 4_000;

export function ContentBlock(props: { readonly block: ContentBlockView }) {
  const { block } = props;
  switch (block.type) {
    case 'text':
      return <pre className="block block-text">{truncate(block.text ?? '', previewChars)}</pre>;
    case 'thinking':
      return <pre className="block block-thinking">{truncate(block.thinking ?? '', previewChars)}</pre>;
    case 'tool_use':
      return (
        <pre className="block block-tool-use">
          tool_use {block.name} ({block.id}) {JSON.stringify(block.input, null, 2)}
        </pre>
      );
    case 'tool_result':
      return (
        <pre className={`block block-tool-result${block.isError === true ? ' error' : ''}`}>
          tool_result for {block.toolUseId}
          {block.isError === true ? ' (error)' : ''}: {truncate(block.content ?? '', previewChars)}
        </pre>
      );
    default:
      return <pre className="block">{truncate(JSON.stringify(block, null, 2), previewChars)}</pre>;
  }
}

export function Messages(props: { readonly messages: readonly MessageView[]; readonly label: string }) {
  return (
    <ol className="messages" aria-label={props.label}>
      {props.messages.map((message, index) => (
        <li key={index} className={`message role-${message.role}`}>
          <span className="role">
            {index + 1}. {message.role}
          </span>
          {message.content.map((block, blockIndex) => (
            <ContentBlock key={blockIndex} block={block} />
          ))}
        </li>
      ))}
    </ol>
  );
}
